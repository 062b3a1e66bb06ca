package com.example.ofda.core

/**
 * The consent calls against a running `ofda run`: `OFDA_FRESH_LINK_ID` is a recurrent link of the
 * token's user whose consent Belvo has not reported yet, `OFDA_EXPIRED_LINK_ID` one whose consent the
 * emulator expired (`POST /sandbox/_control/consents`).
 */
object ConsentLiveTests {
    private val IDENTIFICATION = listOf(mapOf("type" to "CPF", "number" to "76109277673", "name" to "Ralph Bragg"))

    @JvmStatic
    fun main(args: Array<String>) {
        val baseUrl = requiredEnv("OFDA_BASE_URL")
        val client = BackendClient(baseUrl, { requiredEnv("OFDA_TOKEN") })
        val fresh = requiredEnv("OFDA_FRESH_LINK_ID")
        val expired = requiredEnv("OFDA_EXPIRED_LINK_ID")
        val checks = Checks()

        checks.check("GET /v1/links lists the user's links with their status, consent and badge") {
            val links = client.listLinks().associateBy { it.id }
            val freshLink = links[fresh] ?: throw CheckFailure("expected link $fresh in ${links.keys}")
            val expiredLink = links[expired] ?: throw CheckFailure("expected link $expired in ${links.keys}")
            expectEqual(null, freshLink.consent, "consent before any consent webhook")
            expectEqual(null, consentBadge(freshLink), "badge of the fresh link")
            expectEqual(ConsentStatus.EXPIRED, expiredLink.consent?.status, "consent status")
            expectEqual(ConsentBadge.EXPIRED, consentBadge(expiredLink), "badge of the expired link")
            if (expiredLink.status == null) throw CheckFailure("expected Belvo's link status on $expiredLink")
        }

        checks.check("renewal before Belvo reported a consent is 409 consent_not_renewable") {
            val error = runCatching { client.renewConsent(fresh, IDENTIFICATION) }.exceptionOrNull()
            expectEqual("409 consent_not_renewable", (error as? BackendException)?.let { "${it.status} ${it.code}" }, "refusal ($error)")
        }

        checks.check("renewal of the expired consent answers the portal in renew mode for that link") {
            val renewal = client.renewConsent(expired, IDENTIFICATION)
            val query = renewal.url.substringAfter('?').split('&').associate { it.substringBefore('=') to it.substringAfter('=') }
            expectEqual("renew", query["action"], "action")
            expectEqual(expired, query["link_id"], "link_id")
            if (query["access_token"].isNullOrEmpty()) throw CheckFailure("expected an access_token in the renew URL")
            if (renewal.expiresAt == null) throw CheckFailure("expected expires_at")
        }

        checks.check("the customised portal URL carries the user's consent_management token") {
            val portal = client.openConsentPortal(IDENTIFICATION)
            if (!portal.url.startsWith("$baseUrl/sandbox/portal/") || "access_token=" !in portal.url) {
                throw CheckFailure("expected the emulator's portal with an access_token")
            }
        }

        checks.check("another user's link cannot be renewed") {
            val other = BackendClient(baseUrl, { requiredEnv("OFDA_OTHER_TOKEN") })
            val error = runCatching { other.renewConsent(expired, IDENTIFICATION) }.exceptionOrNull()
            expectEqual("404 not_found", (error as? BackendException)?.let { "${it.status} ${it.code}" }, "refusal ($error)")
        }
        checks.finish()
    }
}
