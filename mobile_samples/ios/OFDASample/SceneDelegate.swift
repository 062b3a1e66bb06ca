// Launch, relaunch and links: a universal link (https callbacks, the application link the bank sends
// the user back with) or a callback-scheme URL the OS opens the app with goes to the widget flow,
// which resumes through the backend, forwards it, or resumes the pending session. Nothing here acts
// on a link by itself.

import OFDACore
import UIKit

final class SceneDelegate: UIResponder, UIWindowSceneDelegate {
    var window: UIWindow?
    private var widget: WidgetViewController?
    /// Covers the window while the app is not active, so the app switcher's snapshot shows no CPF or bank data.
    private let privacyCover = UIVisualEffectView(effect: UIBlurEffect(style: .systemMaterial))

    func scene(_ scene: UIScene, willConnectTo session: UISceneSession, options connectionOptions: UIScene.ConnectionOptions) {
        guard let windowScene = scene as? UIWindowScene else { return }
        let settings = Bundle.main.infoDictionary ?? [:]
        let backendURL = settings["OFDABackendURL"] as? String ?? "http://127.0.0.1:8000"
        // A development token from `ofda token demo-user`; a real app gets it from its own sign-in.
        let token = settings["OFDADevToken"] as? String ?? ""
        // Where the widget is served (the backend itself in emulator mode, https://widget.belvo.io with
        // Belvo), and the backend's APPLICATION_LINK, through which the bank sends the user back.
        let widgetOrigin = settings["OFDAWidgetOrigin"] as? String ?? backendURL
        let applicationLink = (settings["OFDAApplicationLink"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        let client = BackendClient(baseURL: backendURL, bearerToken: { token })
        guard let flow = try? WidgetFlow(
            client: client, store: UserDefaultsPendingSessionStore(), widgetOrigin: widgetOrigin, applicationLink: applicationLink
        ) else { fatalError("OFDAWidgetOrigin must be an absolute http(s) URL") }
        // A real app takes the CPF and name from its own sign-up; this is the contract's example. It
        // names no bank: the widget shows its bank picker (and the sandbox's down, busy and disabled banks).
        let identification: [SessionRequest.Identification] = [.init(type: "CPF", number: "76109277673", name: "Ralph Bragg")]
        let request = SessionRequest(identificationInfo: identification)
        let widget = WidgetViewController(flow: flow, request: request, applicationLink: applicationLink.flatMap(URL.init(string:)))
        self.widget = widget
        // The easy-to-find way to the user's consents the Open Finance rules ask for: a bar button over the widget screen.
        widget.navigationItem.rightBarButtonItem = UIBarButtonItem(
            primaryAction: UIAction(title: "Your connections") { [weak widget] _ in
                let consents = ConsentsViewController(client: client, identification: identification)
                widget?.present(UINavigationController(rootViewController: consents), animated: true)
            }
        )
        let window = UIWindow(windowScene: windowScene)
        window.rootViewController = UINavigationController(rootViewController: widget)
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

    /// Universal links (Associated Domains) while the app runs: https callbacks, and the application
    /// link the bank sends the user back with (App2App).
    func scene(_ scene: UIScene, continue userActivity: NSUserActivity) {
        guard userActivity.activityType == NSUserActivityTypeBrowsingWeb, let url = userActivity.webpageURL else { return }
        widget?.openedWith(url)
    }

    /// The callback scheme (CFBundleURLTypes) while the app runs.
    func scene(_ scene: UIScene, openURLContexts urlContexts: Set<UIOpenURLContext>) {
        guard let url = urlContexts.first?.url else { return }
        widget?.openedWith(url)
    }

    func sceneWillResignActive(_ scene: UIScene) {
        guard let window = window else { return }
        privacyCover.frame = window.bounds
        privacyCover.autoresizingMask = [.flexibleWidth, .flexibleHeight]
        window.addSubview(privacyCover)
    }

    func sceneDidBecomeActive(_ scene: UIScene) {
        privacyCover.removeFromSuperview()
    }
}
