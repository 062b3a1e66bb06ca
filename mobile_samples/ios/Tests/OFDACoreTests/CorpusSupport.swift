// What the generated DeeplinkCorpusTests and NavigationPolicyCasesTests call: parse or decide, then
// compare with the expectation embedded from the shared corpus.

import Foundation
import XCTest
@testable import OFDACore

private func jsonObject(_ text: String) -> Any? {
    try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
}

extension XCTestCase {
    /// Parses `url` (with `callbackUrls`, JSON text, when given) and compares the event's JSON with
    /// `expect` (JSON text), or the error code with `expectError`.
    func checkCorpusCase(url: String, callbackUrls: String?, expect: String? = nil, expectError: String? = nil,
                         file: StaticString = #filePath, line: UInt = #line) {
        let event: DeeplinkEvent
        do {
            // Malformed callback URLs are the parser's to refuse too, so they are read inside the do.
            let callbacks = try callbackUrls.map { try CallbackUrls(json: jsonObject($0)) }
            event = try Deeplinks.parse(url, callbackUrls: callbacks)
        } catch let error as DeeplinkError {
            XCTAssertEqual(error.code.rawValue, expectError, "\(error)", file: file, line: line)
            return
        } catch {
            XCTFail("expected a DeeplinkError or an event, got \(error)", file: file, line: line)
            return
        }
        guard let expect = expect, let expected = jsonObject(expect) as? NSDictionary else {
            XCTFail("expected \(expectError ?? "an error"), got \(event.json)", file: file, line: line)
            return
        }
        // NSDictionary equality compares strings as they are, not by Swift's canonical equivalence.
        XCTAssertEqual(NSDictionary(dictionary: event.json), expected, file: file, line: line)
        let readBack = try? DeeplinkEvent(json: expected as? [String: Any])
        XCTAssertEqual(readBack, event, "the backend's event JSON reads back", file: file, line: line)
    }

    /// Asks the policy about `url` and compares with `expect`: load, forward, external or block.
    func checkNavigation(widgetURL: String, callbackUrls: [String: String], url: String, expect: String,
                         file: StaticString = #filePath, line: UInt = #line) {
        guard let policy = try? NavigationPolicy(widgetURL: widgetURL, callbackUrls: callbackUrls) else {
            XCTFail("expected a policy for \(widgetURL)", file: file, line: line)
            return
        }
        switch policy.decide(url) {
        case .loadInWebView:
            XCTAssertEqual("load", expect, file: file, line: line)
        case let .forwardToBackend(forwarded):
            XCTAssertEqual("forward", expect, file: file, line: line)
            XCTAssertEqual(forwarded, url, file: file, line: line)
        case let .openExternally(external):
            XCTAssertEqual("external", expect, file: file, line: line)
            XCTAssertEqual(external, url, file: file, line: line)
        case .block:
            XCTAssertEqual("block", expect, file: file, line: line)
        }
    }
}
