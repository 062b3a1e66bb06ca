// Launch, relaunch and links: a universal link (https callbacks, the return from the bank's app) or
// a callback-scheme URL the OS opens the app with goes to the widget flow, which forwards it to the
// backend or resumes the pending session. Nothing here acts on a link by itself (docs/security.md G2).

import OFDACore
import UIKit

final class SceneDelegate: UIResponder, UIWindowSceneDelegate {
    var window: UIWindow?
    private var widget: WidgetViewController?

    func scene(_ scene: UIScene, willConnectTo session: UISceneSession, options connectionOptions: UIScene.ConnectionOptions) {
        guard let windowScene = scene as? UIWindowScene else { return }
        let settings = Bundle.main.infoDictionary ?? [:]
        let backendURL = settings["OFDABackendURL"] as? String ?? "http://127.0.0.1:8000"
        // A development token from `ofda token demo-user`; a real app gets it from its own sign-in.
        let token = settings["OFDADevToken"] as? String ?? ""
        let client = BackendClient(baseURL: backendURL, bearerToken: { token })
        let flow = WidgetFlow(client: client, store: UserDefaultsPendingSessionStore())
        // A real app takes the CPF and name from its own sign-up; this is the contract's example.
        let request: [String: Any] = [
            "identification_info": [["type": "CPF", "number": "76109277673", "name": "Ralph Bragg"]],
            "institutions": ["ofmockbank_br_retail"],
        ]
        let widget = WidgetViewController(flow: flow, request: request)
        self.widget = widget
        let window = UIWindow(windowScene: windowScene)
        window.rootViewController = widget
        window.makeKeyAndVisible()
        self.window = window

        if let activity = connectionOptions.userActivities.first(where: { $0.activityType == NSUserActivityTypeBrowsingWeb }),
           let url = activity.webpageURL {
            widget.openedWith(url)
        } else if let url = connectionOptions.urlContexts.first?.url {
            widget.openedWith(url)
        } else {
            widget.resume()
        }
    }

    /// Universal links (Associated Domains) while the app runs.
    func scene(_ scene: UIScene, continue userActivity: NSUserActivity) {
        guard userActivity.activityType == NSUserActivityTypeBrowsingWeb, let url = userActivity.webpageURL else { return }
        widget?.openedWith(url)
    }

    /// The callback scheme (CFBundleURLTypes) while the app runs.
    func scene(_ scene: UIScene, openURLContexts urlContexts: Set<UIOpenURLContext>) {
        guard let url = urlContexts.first?.url else { return }
        widget?.openedWith(url)
    }
}
