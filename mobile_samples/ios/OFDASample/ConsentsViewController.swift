// The user's connected banks and their Open Finance consents: "Manage my data sharing" opens My Belvo
// Portal, each link shows Belvo's status and a badge when its consent is about to expire or expired,
// with "Renew" opening the portal in renew mode. The portal is Belvo's page: it opens in
// SFSafariViewController (Safari's engine, its address bar, no access from the app), never in the
// widget's WKWebView; the list is read again when the user closes it. Portal URLs carry an access
// token: never logged, never stored.

import OFDACore
import SafariServices
import UIKit

final class ConsentsViewController: UITableViewController, SFSafariViewControllerDelegate {
    private let client: BackendClient
    private let identification: [SessionRequest.Identification]
    private var links: [UserLink] = []
    private var message: String? = "Loading your connections…"

    init(client: BackendClient, identification: [SessionRequest.Identification]) {
        self.client = client
        self.identification = identification
        super.init(style: .insetGrouped)
    }

    @available(*, unavailable)
    required init?(coder: NSCoder) { fatalError("created in code by WidgetViewController") }

    override func viewDidLoad() {
        super.viewDidLoad()
        title = "Your connections"
        navigationItem.leftBarButtonItem = UIBarButtonItem(systemItem: .close, primaryAction: UIAction { [weak self] _ in
            self?.dismiss(animated: true)
        })
        tableView.tableHeaderView = manageButton()
        refresh()
    }

    private func manageButton() -> UIView {
        let button = UIButton(type: .system, primaryAction: UIAction(title: "Manage my data sharing") { [weak self] _ in
            self?.openManagePortal()
        })
        button.frame = CGRect(x: 0, y: 0, width: 320, height: 56)
        return button
    }

    private func refresh() {
        Task { @MainActor in
            do {
                links = try await client.listLinks()
                message = links.isEmpty ? "No bank connected yet." : nil
            } catch {
                // An HTTP status and error code, never a URL.
                message = "Your connections could not be read: \(error)"
            }
            tableView.reloadData()
        }
    }

    /// The portal showing this user's consents; should the backend not answer, the public portal (where
    /// the user signs in themselves) still leads to them.
    private func openManagePortal() {
        Task { @MainActor in
            let portal = try? await client.openConsentPortal(identificationInfo: identification)
            openPortal(portal.flatMap { URL(string: $0.url) } ?? ConsentPortal.publicURL)
        }
    }

    private func renew(_ link: UserLink) {
        Task { @MainActor in
            do {
                let renewal = try await client.renewConsent(linkID: link.id, identificationInfo: identification)
                guard let url = URL(string: renewal.url) else { return }
                openPortal(url)
            } catch {
                let alert = UIAlertController(title: nil, message: "This consent cannot be renewed: \(error)", preferredStyle: .alert)
                alert.addAction(UIAlertAction(title: "OK", style: .default))
                present(alert, animated: true)
            }
        }
    }

    private func openPortal(_ url: URL) {
        let safari = SFSafariViewController(url: url)
        safari.delegate = self
        present(safari, animated: true)
    }

    /// Back from the portal, where the user may have renewed or revoked a consent.
    func safariViewControllerDidFinish(_ controller: SFSafariViewController) {
        refresh()
    }

    // MARK: Table

    override func tableView(_ tableView: UITableView, numberOfRowsInSection section: Int) -> Int {
        message == nil ? links.count : 1
    }

    override func tableView(_ tableView: UITableView, cellForRowAt indexPath: IndexPath) -> UITableViewCell {
        let cell = UITableViewCell(style: .subtitle, reuseIdentifier: nil)
        var content = cell.defaultContentConfiguration()
        content.secondaryTextProperties.numberOfLines = 0
        guard message == nil else {
            content.text = message
            cell.contentConfiguration = content
            return cell
        }
        let link = links[indexPath.row]
        content.text = link.consent?.institutionDisplayName ?? link.institution
        var details = ["Connection: \(link.status ?? "unknown")"]
        switch ConsentBadge.of(link) {
        case .aboutToExpire?:
            details.append("⚠︎ Consent expires soon" + (link.consent?.dueDate.map { " (\($0.prefix(10)))" } ?? ""))
        case .expired?:
            details.append("⛔︎ Consent expired: this bank's data no longer updates")
        case nil:
            break
        }
        content.secondaryText = details.joined(separator: "\n")
        cell.contentConfiguration = content
        if ConsentBadge.of(link) != nil {
            cell.accessoryView = UIButton(type: .system, primaryAction: UIAction(title: "Renew") { [weak self] _ in
                self?.renew(link)
            })
            cell.accessoryView?.sizeToFit()
        }
        return cell
    }
}
