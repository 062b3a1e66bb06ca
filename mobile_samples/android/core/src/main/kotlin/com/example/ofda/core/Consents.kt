package com.example.ofda.core

/**
 * The user's Open Finance consents (docs/contract.md section 7): the links with their consent, the badge a
 * link shows when its consent needs the user, and the My Belvo Portal URLs to manage or renew it.
 *
 * A consent lasts 3 to 12 months; once expired the link stops updating and only the user can renew
 * it, in My Belvo Portal (Belvo's "My Belvo Portal" page, https://developers.belvo.com/). The portal is a
 * third-party page: open it in the platform's browser tab (Custom Tabs), never in the widget's
 * WebView, and never log its URL (it carries an access token).
 */
object ConsentPortal {
    /** The public portal: the user identifies themselves there, no token needed. */
    const val PUBLIC_URL = "https://meuportal.belvo.com/?mode=landing"
}

/** A link's consent as Belvo's consent webhooks last described it; `status` is one of [ConsentStatus]. */
data class LinkConsent(
    val status: String,
    val consentId: String?,
    val dueDate: String?,
    val institution: String?,
    val institutionDisplayName: String?,
    val updatedAt: String?,
) {
    companion object {
        fun fromJson(json: Any?): LinkConsent {
            val map = json as? Map<*, *> ?: throw BackendException.malformed("a consent object")
            return LinkConsent(
                status = map["status"] as? String ?: throw BackendException.malformed("a consent 'status'"),
                consentId = map["consent_id"] as? String,
                dueDate = map["due_date"] as? String,
                institution = map["institution"] as? String,
                institutionDisplayName = map["institution_display_name"] as? String,
                updatedAt = map["updated_at"] as? String,
            )
        }
    }
}

object ConsentStatus {
    const val ACTIVE = "active"
    const val ABOUT_TO_EXPIRE = "about_to_expire"
    const val EXPIRED = "expired"
    const val REVOKED = "revoked"
}

/** One of the user's links (`GET /v1/links`): [status] is Belvo's (`valid`, `invalid`, ...), null when Belvo did not say. */
data class UserLink(val id: String, val institution: String, val status: String?, val consent: LinkConsent?) {
    companion object {
        fun fromJson(json: Any?): UserLink {
            val map = json as? Map<*, *> ?: throw BackendException.malformed("a link object")
            return UserLink(
                id = map["id"] as? String ?: throw BackendException.malformed("a link 'id'"),
                institution = map["institution"] as? String ?: throw BackendException.malformed("a link 'institution'"),
                status = map["status"] as? String,
                consent = map["consent"]?.let(LinkConsent::fromJson),
            )
        }
    }
}

/** What a link's row shows beside its name when the consent needs the user; both offer renewal. */
enum class ConsentBadge { ABOUT_TO_EXPIRE, EXPIRED }

/**
 * The badge for [link], or null when its consent needs nothing from the user: active, revoked (a
 * revoked consent cannot be renewed; the user connects the bank again), or not reported yet.
 */
fun consentBadge(link: UserLink): ConsentBadge? =
    when (link.consent?.status) {
        ConsentStatus.ABOUT_TO_EXPIRE -> ConsentBadge.ABOUT_TO_EXPIRE
        ConsentStatus.EXPIRED -> ConsentBadge.EXPIRED
        else -> null
    }

/** A My Belvo Portal URL from the backend. `toString` leaves out [url]: it carries an access token. */
class PortalUrl(val url: String, val expiresAt: String?) {
    override fun toString() = "PortalUrl(expiresAt=$expiresAt)"
}
