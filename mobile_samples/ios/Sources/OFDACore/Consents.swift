// The user's Open Finance consents (docs/contract.md section 7): the links with their consent, the badge a
// link shows when its consent needs the user, and My Belvo Portal.
//
// A consent lasts 3 to 12 months; once expired the link stops updating and only the user can renew it,
// in My Belvo Portal (Belvo's "My Belvo Portal" page, https://developers.belvo.com/). The portal is a
// third-party page: open it in SFSafariViewController (or ASWebAuthenticationSession), never in the
// widget's WKWebView, and never log its URL (it carries an access token).

import Foundation

public enum ConsentPortal {
    /// The public portal: the user identifies themselves there, no token needed.
    public static let publicURL = URL(string: "https://meuportal.belvo.com/?mode=landing")!
}

/// A link's consent as Belvo's consent webhooks last described it.
public struct LinkConsent: Decodable, Sendable, Equatable {
    public enum Status: String, Decodable, Sendable {
        case active
        case aboutToExpire = "about_to_expire"
        case expired
        case revoked
    }

    public let status: Status
    public let consentID: String?
    public let dueDate: String?
    public let institution: String?
    public let institutionDisplayName: String?
    public let updatedAt: String?

    public init(status: Status, consentID: String? = nil, dueDate: String? = nil, institution: String? = nil,
                institutionDisplayName: String? = nil, updatedAt: String? = nil) {
        self.status = status
        self.consentID = consentID
        self.dueDate = dueDate
        self.institution = institution
        self.institutionDisplayName = institutionDisplayName
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case status, institution
        case consentID = "consent_id", dueDate = "due_date", institutionDisplayName = "institution_display_name"
        case updatedAt = "updated_at"
    }
}

/// One of the user's links (`GET /v1/links`): `status` is Belvo's (`valid`, `invalid`, ...), nil when Belvo did not say.
public struct UserLink: Decodable, Sendable, Equatable {
    public let id: String
    public let institution: String
    public let status: String?
    public let consent: LinkConsent?

    public init(id: String, institution: String, status: String?, consent: LinkConsent?) {
        self.id = id
        self.institution = institution
        self.status = status
        self.consent = consent
    }

    enum CodingKeys: String, CodingKey {
        case id, institution, status, consent
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        institution = try container.decode(String.self, forKey: .institution)
        status = try container.decodeIfPresent(String.self, forKey: .status)
        // A consent status this app does not know reads as no consent (no badge), not a failed list.
        consent = try? container.decodeIfPresent(LinkConsent.self, forKey: .consent)
    }
}

/// What a link's row shows beside its name when the consent needs the user; both offer renewal.
public enum ConsentBadge: Sendable, Equatable {
    case aboutToExpire
    case expired

    /// The badge for `link`, or nil when its consent needs nothing from the user: active, revoked (a
    /// revoked consent cannot be renewed; the user connects the bank again), or not reported yet.
    public static func of(_ link: UserLink) -> ConsentBadge? {
        switch link.consent?.status {
        case .aboutToExpire?: return .aboutToExpire
        case .expired?: return .expired
        case .active?, .revoked?, nil: return nil
        }
    }
}

/// A My Belvo Portal URL from the backend. `description` leaves the URL out: it carries an access token.
public struct PortalURL: Sendable, CustomStringConvertible {
    public let url: String
    public let expiresAt: String?

    public var description: String { "PortalURL(expiresAt: \(expiresAt ?? "nil"))" }
}

/// `POST /v1/consent-portal`'s and `POST /v1/links/{id}/consent-renewal`'s body.
struct PortalRequest: Encodable {
    let identificationInfo: [SessionRequest.Identification]

    enum CodingKeys: String, CodingKey {
        case identificationInfo = "identification_info"
    }
}

struct LinkList: Decodable {
    let links: [UserLink]
}

/// Either portal answer: `portal_url` or `renew_url`, and `expires_at`.
struct PortalAnswer: Decodable {
    let portalURL: String?
    let renewURL: String?
    let expiresAt: String?

    enum CodingKeys: String, CodingKey {
        case portalURL = "portal_url", renewURL = "renew_url", expiresAt = "expires_at"
    }
}
