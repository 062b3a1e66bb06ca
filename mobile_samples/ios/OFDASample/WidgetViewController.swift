// Connects a bank account through Belvo's hosted widget: asks the backend for a widget session, shows
// the widget in a locked-down WKWebView, hands the callbacks to the backend, and shows the backend's
// verdict. All decisions live in OFDACore (WidgetFlow, NavigationPolicy); this class is UI.

import AuthenticationServices
import OFDACore
import SafariServices
import UIKit
import WebKit

final class WidgetViewController: UIViewController, WKNavigationDelegate, ASWebAuthenticationPresentationContextProviding {
    private let flow: WidgetFlow
    private let request: SessionRequest
    private let applicationLink: URL?
    private var webView: WKWebView?
    private var policy: NavigationPolicy?
    /// The secure browser the bank's page opened in, when no bank app took it.
    private var bankSession: ASWebAuthenticationSession?
    private var captureObserver: NSObjectProtocol?
    private let messageLabel = UILabel()
    private let actionButton = UIButton(type: .system)
    private var action: (() -> Void)?

    init(flow: WidgetFlow, request: SessionRequest, applicationLink: URL?) {
        self.flow = flow
        self.request = request
        self.applicationLink = applicationLink
        super.init(nibName: nil, bundle: nil)
    }

    @available(*, unavailable)
    required init?(coder: NSCoder) { fatalError("created in code by SceneDelegate") }

    override func viewDidLoad() {
        super.viewDidLoad()
        view.backgroundColor = .systemBackground
        messageLabel.numberOfLines = 0
        messageLabel.textAlignment = .center
        actionButton.addTarget(self, action: #selector(actionTapped), for: .touchUpInside)
        let stack = UIStackView(arrangedSubviews: [messageLabel, actionButton])
        stack.axis = .vertical
        stack.spacing = 16
        stack.translatesAutoresizingMaskIntoConstraints = false
        view.addSubview(stack)
        NSLayoutConstraint.activate([
            stack.centerYAnchor.constraint(equalTo: view.centerYAnchor),
            stack.leadingAnchor.constraint(equalTo: view.layoutMarginsGuide.leadingAnchor),
            stack.trailingAnchor.constraint(equalTo: view.layoutMarginsGuide.trailingAnchor),
        ])
        // iOS cannot block screenshots, but it says when the screen is recorded or mirrored: the widget
        // (CPF, bank data) is hidden meanwhile. The app switcher's snapshot is covered by SceneDelegate.
        captureObserver = NotificationCenter.default.addObserver(
            forName: UIScreen.capturedDidChangeNotification, object: nil, queue: .main
        ) { [weak self] _ in
            MainActor.assumeIsolated { self?.hideWhileCaptured() }
        }
    }

    private func hideWhileCaptured() {
        webView?.isHidden = view.window?.windowScene?.screen.isCaptured ?? false
    }

    // MARK: Entry points (SceneDelegate)

    /// On launch: picks up a pending session (the app was killed mid-widget), else offers to start one.
    func resume() { perform { try await self.flow.resume() } }

    /// A universal link or callback URL the OS opened the app with (the application link: back from the bank).
    func openedWith(_ url: URL) {
        // Back from the bank: the secure browser it ran in has done its job.
        if presentedViewController is SFSafariViewController { dismiss(animated: true) }
        perform { try await self.flow.openedWith(url.absoluteString) }
    }

    // MARK: The flow

    private func perform(keepWidget: Bool = false, _ step: @escaping () async throws -> Screen?) {
        if !keepWidget { showMessage("Working…") }
        Task { @MainActor in
            do {
                let screen = try await step()
                self.render(screen)
            } catch let error as BackendError {
                self.tearDownWebView()
                self.showMessage("Something went wrong: \(error.status) \(error.code)", action: "Try again") { self.resume() }
            } catch {
                // Never the error's URL: it could carry the widget's token.
                self.tearDownWebView()
                self.showMessage("The backend could not be reached.", action: "Try again") { self.resume() }
            }
        }
    }

    private func render(_ screen: Screen?) {
        switch screen {
        case nil:
            showMessage("Connect your bank account through Open Finance.", action: "Connect") {
                self.perform { try await self.flow.start(self.request) }
            }
        case let .widget(_, widgetURL, policy)?:
            guard let widgetURL = URL(string: widgetURL) else { return }
            showWidget(widgetURL, policy: policy)
        case let .keepWidget(_, event, refusedCode)?:
            if case let .warning(code, message, _)? = event {
                showBanner(message ?? code)
            } else if let refusedCode = refusedCode {
                showBanner("The backend refused the bank's answer (\(refusedCode)).")
            }
        case let .outcome(session, event)?:
            tearDownWebView()
            showMessage(Self.outcomeText(status: session.status, event: event), action: "Done") { self.render(nil) }
        case .startAgain?:
            tearDownWebView()
            showMessage("This connection cannot be resumed.", action: "Start again") {
                self.perform { try await self.flow.start(self.request) }
            }
        case let .retryLater(_, reason)?:
            tearDownWebView()
            showMessage("Your bank's answer is saved and will be sent again (\(reason)).", action: "Send again") { self.resume() }
        }
    }

    // MARK: The WebView (docs/security.md G3-G5)

    private func showWidget(_ widgetURL: URL, policy: NavigationPolicy) {
        tearDownWebView()
        self.policy = policy
        let configuration = WKWebViewConfiguration()
        // Nothing the page stores (cookies, local storage, cache) outlives this WebView: it held the
        // widget's access token (G5).
        configuration.websiteDataStore = .nonPersistent()
        // JavaScript is on because the widget is a JavaScript app. No script message handlers and no
        // injected user scripts: the page gets no bridge into the app (G4).
        configuration.defaultWebpagePreferences.allowsContentJavaScript = true
        configuration.preferences.javaScriptCanOpenWindowsAutomatically = false
        configuration.dataDetectorTypes = []
        let webView = WKWebView(frame: view.bounds, configuration: configuration)
        webView.navigationDelegate = self
        webView.allowsLinkPreview = false
        webView.autoresizingMask = [.flexibleWidth, .flexibleHeight]
        #if DEBUG
            if #available(iOS 16.4, *) { webView.isInspectable = true }
        #endif
        view.addSubview(webView)
        self.webView = webView
        hideWhileCaptured()
        webView.load(URLRequest(url: widgetURL)) // never logged: the URL carries the widget's access token
    }

    /// Every navigation goes through the policy. Belvo's snippet branches on `url.host` alone (facts
    /// file 2.2); here only the widget's origin loads, the session's callbacks go to the backend, the
    /// bank opens outside (App2App), and everything else is cancelled.
    func webView(_ webView: WKWebView, decidePolicyFor navigationAction: WKNavigationAction,
                 decisionHandler: @escaping (WKNavigationActionPolicy) -> Void) {
        guard let policy = policy, let url = navigationAction.request.url else { return decisionHandler(.cancel) }
        let decision = policy.decide(url.absoluteString)
        // A frame inside the widget may load from the widget's origin only; it never leaves the app.
        guard navigationAction.targetFrame?.isMainFrame ?? true else {
            return decisionHandler(decision == .loadInWebView ? .allow : .cancel)
        }
        switch decision {
        case .loadInWebView:
            decisionHandler(.allow)
        case let .forwardToBackend(callback):
            decisionHandler(.cancel)
            perform(keepWidget: true) { try await self.flow.forward(callback) }
        case let .openExternally(external):
            decisionHandler(.cancel)
            openOutside(external)
        case .block:
            // Dropped without a log line: the URL may carry tokens or personal data.
            decisionHandler(.cancel)
        }
    }

    func webViewWebContentProcessDidTerminate(_ webView: WKWebView) {
        // The web content process died (memory pressure): drop this WebView and resume the session.
        tearDownWebView()
        resume()
    }

    /// The bank (App2App, https://developers.belvo.com/docs/hosted-widget-app2app-ofda): its app when a
    /// universal link claims the URL; otherwise a secure browser, never this WebView (the bank login must
    /// not run in an embedded user agent, RFC 8252 section 8.12). The bank sends the user back through
    /// the application link: as a universal link (SceneDelegate), or, in an ASWebAuthenticationSession,
    /// to its completion handler.
    private func openOutside(_ external: String) {
        guard let url = URL(string: external) else { return }
        UIApplication.shared.open(url, options: [.universalLinksOnly: true]) { [weak self] openedInApp in
            if !openedInApp { self?.openInSecureBrowser(url) }
        }
    }

    private func openInSecureBrowser(_ url: URL) {
        if #available(iOS 17.4, *), let link = applicationLink, let host = link.host {
            let session = ASWebAuthenticationSession(url: url, callback: .https(host: host, path: link.path)) { [weak self] back, _ in
                // nil: the user closed the browser; the widget stays where it was.
                guard let back = back else { return }
                Task { @MainActor in self?.openedWith(back) }
            }
            session.presentationContextProvider = self
            bankSession = session
            session.start()
        } else {
            present(SFSafariViewController(url: url), animated: true)
        }
    }

    func presentationAnchor(for session: ASWebAuthenticationSession) -> ASPresentationAnchor {
        view.window ?? ASPresentationAnchor()
    }

    private func tearDownWebView() {
        webView?.stopLoading()
        webView?.navigationDelegate = nil
        webView?.removeFromSuperview()
        webView = nil
        policy = nil
    }

    // MARK: Messages

    private func showMessage(_ text: String, action title: String? = nil, _ onTap: (() -> Void)? = nil) {
        messageLabel.text = text
        actionButton.setTitle(title, for: .normal)
        actionButton.isHidden = title == nil
        action = onTap
    }

    private func showBanner(_ text: String) {
        let alert = UIAlertController(title: nil, message: text, preferredStyle: .alert)
        alert.addAction(UIAlertAction(title: "OK", style: .default))
        present(alert, animated: true)
    }

    @objc private func actionTapped() { action?() }

    static func outcomeText(status: String, event: DeeplinkEvent?) -> String {
        switch (status, event) {
        case ("succeeded", _):
            return "Your bank account is connected."
        case let ("exited", .exit(error?, _, _, _)?):
            return "You left the connection: \(error.message ?? error.code)"
        case ("exited", _):
            return "You left the connection."
        case let ("failed", .error(code, message, _)?):
            return "The connection failed: \(message ?? code)"
        case ("failed", _):
            return "The connection failed."
        case ("expired", _):
            return "The connection took too long and expired."
        default:
            return "The connection is \(status)."
        }
    }
}
