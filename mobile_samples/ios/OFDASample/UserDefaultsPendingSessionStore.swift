// The pending session id (and a callback not yet delivered to the backend) in UserDefaults, so the
// flow can resume after the app was killed. Never the widget URL: it carries the widget's access token.

import Foundation
import OFDACore

// @unchecked Sendable: UserDefaults is thread-safe, and the one property is a constant.
final class UserDefaultsPendingSessionStore: PendingSessionStore, @unchecked Sendable {
    private let defaults: UserDefaults
    private let key = "ofda.pendingSession"

    init(defaults: UserDefaults = .standard) {
        self.defaults = defaults
    }

    func load() -> PendingSession? {
        defaults.data(forKey: key).flatMap { try? JSONDecoder().decode(PendingSession.self, from: $0) }
    }

    func save(_ pending: PendingSession) {
        defaults.set(try? JSONEncoder().encode(pending), forKey: key)
    }

    func clear() {
        defaults.removeObject(forKey: key)
    }
}
