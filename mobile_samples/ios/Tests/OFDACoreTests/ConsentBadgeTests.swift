// The badge a link's row shows (a pure function of the link), for every consent status and none.

import Foundation
import XCTest
@testable import OFDACore

final class ConsentBadgeTests: XCTestCase {
    private func link(_ consent: LinkConsent.Status?, status: String? = "valid") -> UserLink {
        UserLink(
            id: "8848bd0c-9c7e-4f53-a732-ec896b11d4c4", institution: "ofmockbank_br_retail", status: status,
            consent: consent.map { LinkConsent(status: $0, consentID: "c-1", dueDate: "2026-12-26T10:45:58.000Z") }
        )
    }

    func testAConsentAboutToExpireIsBadged() {
        XCTAssertEqual(ConsentBadge.of(link(.aboutToExpire)), .aboutToExpire)
    }

    func testAnExpiredConsentIsBadgedWhateverTheLinkStatus() {
        XCTAssertEqual(ConsentBadge.of(link(.expired)), .expired)
        XCTAssertEqual(ConsentBadge.of(link(.expired, status: "invalid")), .expired)
    }

    func testActiveRevokedAndUnreportedConsentsShowNoBadge() {
        XCTAssertNil(ConsentBadge.of(link(.active)))
        XCTAssertNil(ConsentBadge.of(link(.revoked)))
        XCTAssertNil(ConsentBadge.of(link(nil)))
    }

    func testALinkFromTheBackendKeepsItsStatusAndConsent() throws {
        let json = """
            {"id": "l-1", "institution": "ofmockbank_br_retail", "status": "valid", "access_mode": "recurrent",
             "consent": {"status": "about_to_expire", "consent_id": "c-1", "due_date": "2026-12-26T10:45:58.000Z",
             "institution": "ofmockbank_br_retail", "institution_display_name": "OF Mockbank",
             "institution_icon_logo": null, "resources_issue": null, "updated_at": "2026-12-19T10:45:58Z"}}
            """
        let parsed = try JSONDecoder().decode(UserLink.self, from: Data(json.utf8))
        XCTAssertEqual(parsed.status, "valid")
        XCTAssertEqual(ConsentBadge.of(parsed), .aboutToExpire)
        XCTAssertEqual(parsed.consent?.institutionDisplayName, "OF Mockbank")
    }
}
