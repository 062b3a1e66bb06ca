package com.example.ofda.core

/** The badge a link's row shows (a pure function of the link), for every consent status and none. */
object ConsentBadgeTests {
    private fun link(consentStatus: String?, status: String? = "valid") = UserLink(
        id = "8848bd0c-9c7e-4f53-a732-ec896b11d4c4",
        institution = "ofmockbank_br_retail",
        status = status,
        consent = consentStatus?.let { LinkConsent(it, "c-1", "2026-12-26T10:45:58.000Z", "ofmockbank_br_retail", "OF Mockbank", null) },
    )

    @JvmStatic
    fun main(args: Array<String>) {
        val checks = Checks()
        checks.check("a consent about to expire is badged, to renew before the link stops updating") {
            expectEqual(ConsentBadge.ABOUT_TO_EXPIRE, consentBadge(link(ConsentStatus.ABOUT_TO_EXPIRE)), "badge")
        }
        checks.check("an expired consent is badged, whatever Belvo's link status says") {
            expectEqual(ConsentBadge.EXPIRED, consentBadge(link(ConsentStatus.EXPIRED)), "badge")
            expectEqual(ConsentBadge.EXPIRED, consentBadge(link(ConsentStatus.EXPIRED, status = "invalid")), "badge of an invalid link")
        }
        checks.check("an active consent, a revoked one (not renewable) and none reported yet show no badge") {
            for (status in listOf(ConsentStatus.ACTIVE, ConsentStatus.REVOKED, null)) {
                expectEqual(null, consentBadge(link(status)), "badge for consent $status")
            }
        }
        checks.check("a link, parsed from GET /v1/links, keeps its status and consent") {
            val parsed = UserLink.fromJson(
                Json.parse(
                    """{"id": "l-1", "institution": "ofmockbank_br_retail", "status": "valid", "access_mode": "recurrent",
                       "consent": {"status": "about_to_expire", "consent_id": "c-1", "due_date": "2026-12-26T10:45:58.000Z",
                       "institution": "ofmockbank_br_retail", "institution_display_name": "OF Mockbank",
                       "institution_icon_logo": null, "resources_issue": null, "updated_at": "2026-12-19T10:45:58Z"}}""",
                ),
            )
            expectEqual("valid", parsed.status, "status")
            expectEqual(ConsentBadge.ABOUT_TO_EXPIRE, consentBadge(parsed), "badge")
            expectEqual("OF Mockbank", parsed.consent?.institutionDisplayName, "institution_display_name")
        }
        checks.check("a portal URL's toString leaves out its access token") {
            val url = PortalUrl("https://meuportal.belvo.com/?access_token=secret&action=renew", "2026-12-06T10:00:00Z")
            if ("secret" in "$url") throw CheckFailure("expected toString to leave out the URL, got $url")
        }
        checks.finish()
    }
}
