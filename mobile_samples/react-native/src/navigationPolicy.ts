import { MAX_LENGTH, type CallbackUrlsJson } from "./deeplinks";

/** What the widget's WebView does with a navigation (docs/security.md G3). */
export type Navigation =
  /** Same origin as the session's widget URL: the widget itself. */
  | { readonly action: "load" }
  /** One of the session's callback URLs: hand it to the backend, never act on it here. */
  | { readonly action: "forward"; readonly url: string }
  /** An https page of another origin (the bank, App2App): the OS opens it in the bank's app or the browser. */
  | { readonly action: "external"; readonly url: string }
  /** Anything else (`javascript:`, `data:`, `file:`, `intent:`, cleartext pages, other apps' schemes). */
  | { readonly action: "block"; readonly reason: string };

/** A URI split into RFC 3986 components (appendix B), without decoding; scheme and host lowercased. */
export interface UriParts {
  readonly scheme: string | null;
  readonly authority: string | null;
  readonly host: string | null;
  readonly path: string;
  /** `scheme://host:port` with the port always written; null without a host or with a malformed port. */
  readonly origin: string | null;
}

const RFC3986 = /^(?:([^:/?#]+):)?(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#([\s\S]*))?$/;
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*$/;
const DEFAULT_PORTS: Readonly<Record<string, number>> = { http: 80, https: 443 };
const WEB_SCHEMES: ReadonlySet<string> = new Set(["http", "https"]);

/**
 * Splits any URI, leniently (unlike the deeplink parser): the policy must classify every URL the
 * WebView tries, well-formed or not.
 *
 * @example
 * splitUri("HTTPS://User@Widget.Example:8443/a").origin // => "https://widget.example:8443"
 */
export function splitUri(uri: string): UriParts {
  const match = RFC3986.exec(uri);
  const rawScheme = match?.[1];
  // A "scheme" that is not a valid one (e.g. `a b:`) means the whole string is a relative path.
  if (match === null || (rawScheme !== undefined && !SCHEME.test(rawScheme))) {
    return { scheme: null, authority: null, host: null, path: uri, origin: null };
  }
  const scheme = rawScheme?.toLowerCase() ?? null;
  const authority = match[2] ?? null;
  // userinfo ends at the last '@' (RFC 3986 section 3.2.1); an IPv6 literal keeps its ':' inside [].
  const hostPort = authority === null ? null : authority.slice(authority.lastIndexOf("@") + 1);
  let host: string | null = null;
  let rawPort: string | null = null;
  if (hostPort !== null) {
    const separator = hostPort.startsWith("[")
      ? hostPort.indexOf("]:") < 0
        ? -1
        : hostPort.indexOf("]:") + 1
      : hostPort.lastIndexOf(":");
    host = (separator < 0 ? hostPort : hostPort.slice(0, separator)).replace(/^\[(.*)\]$/, "$1").toLowerCase();
    rawPort = separator < 0 ? null : hostPort.slice(separator + 1);
  }
  // An explicit port is 0-65535 in digits; anything else makes the URL no web origin at all.
  const explicitPort =
    rawPort !== null && /^[0-9]+$/.test(rawPort) && Number(rawPort) <= 65535 ? Number(rawPort) : null;
  const portIsValid = rawPort === null || rawPort === "" || explicitPort !== null;
  const port = explicitPort ?? (scheme === null ? undefined : DEFAULT_PORTS[scheme]);
  const origin =
    scheme === null || host === null || host === "" || !portIsValid ? null : `${scheme}://${host}:${port ?? ""}`;
  return { scheme, authority, host, path: match[3] ?? "", origin };
}

/**
 * Which URLs go to the backend: those on one of the session's callback URLs (scheme and authority
 * case-insensitively, the path exactly, an empty path equal to "/", the query ignored: contract
 * section 3, rule 1), and any other URL on their custom scheme (Belvo's host-named
 * `<scheme>://warning?...`, which the backend classifies by rule 2). Used for WebView navigations
 * and for URLs the OS opens the app with.
 */
export class CallbackMatcher {
  private readonly callbacks: readonly UriParts[];
  private readonly customSchemes: ReadonlySet<string>;
  private readonly applicationLink: UriParts | null;

  constructor(callbackUrls: CallbackUrlsJson) {
    // The application link too (App2App): on a laptop it shares the widget's origin, so the bank's
    // redirect to it arrives inside the WebView, and it must reach the flow, not load there.
    this.callbacks = [callbackUrls.success, callbackUrls.exit, callbackUrls.event].map(splitUri);
    const link = callbackUrls.application_link;
    this.applicationLink = typeof link === "string" ? splitUri(link) : null;
    this.customSchemes = new Set(
      this.callbacks.flatMap((c) => (c.scheme === null || WEB_SCHEMES.has(c.scheme) ? [] : [c.scheme])),
    );
  }

  matches(url: string | UriParts): boolean {
    const parts = typeof url === "string" ? splitUri(url) : url;
    return (
      (parts.scheme !== null && this.customSchemes.has(parts.scheme)) ||
      this.callbacks.some((c) => sameEndpoint(parts, c)) ||
      (this.applicationLink !== null && onApplicationLink(parts, this.applicationLink))
    );
  }
}

/**
 * docs/contract.md section 3, rule 1, for one URL against a configured one: scheme and authority
 * case-insensitively, the path exactly (an empty path equal to "/"), the query ignored.
 */
export function sameEndpoint(a: UriParts, b: UriParts): boolean {
  return (
    a.scheme === b.scheme &&
    a.authority?.toLowerCase() === b.authority?.toLowerCase() &&
    (a.path === "" ? "/" : a.path) === (b.path === "" ? "/" : b.path)
  );
}

/** `url` is on the application link: as `sameEndpoint`, and one trailing slash on the path ignored, as the backend does. */
export function onApplicationLink(url: UriParts, link: UriParts): boolean {
  return sameEndpoint({ ...url, path: url.path.replace(/\/$/, "") }, { ...link, path: link.path.replace(/\/$/, "") });
}

/**
 * Decides, for every navigation the widget's WebView attempts, whether it stays in the WebView, goes
 * to the backend, leaves for the OS, or is dropped. Belvo's own platform snippets (docs/belvo.md §2.2)
 * let any https URL load in the WebView and branch on the URL host alone; this policy is stricter:
 *
 * - only the widget's origin (scheme, host and port of the session's `widget_url`) loads inside;
 * - the session's callback URLs are matched on scheme, host and path (docs/contract.md section 3, rule 1); a
 *   URL on the same custom scheme that matches none is forwarded as well, because Belvo's examples
 *   deliver host-named URLs (`<scheme>://warning?...`, docs/belvo.md §3.5) and the backend, not the app,
 *   decides what they are; it is never handed to the OS, where another app could claim it;
 * - other https pages are the bank's (App2App, docs/belvo.md §2.1): the bank login must not happen in an
 *   embedded WebView (RFC 8252 section 8.12, docs/security.md G6), so they open outside;
 * - everything else is blocked.
 *
 * The same rules, and the same cases (`mobile_samples/navigation_cases.json`), as the Kotlin and
 * Swift samples.
 */
export class NavigationPolicy {
  private readonly widgetOrigin: string;
  private readonly callbacks: CallbackMatcher;

  constructor(widgetUrl: string, callbackUrls: CallbackUrlsJson) {
    const origin = splitUri(widgetUrl).origin;
    if (origin === null) throw new Error("expected the session's widget_url to be an absolute http(s) URL");
    this.widgetOrigin = origin;
    this.callbacks = new CallbackMatcher(callbackUrls);
  }

  decide(url: string): Navigation {
    // The characters the parser refuses outright: a URL carrying them is not something to load or forward.
    if (url === "" || url.length > MAX_LENGTH || /[\u0000-\u0020\u007f]/.test(url)) {
      return { action: "block", reason: "not a well-formed URL" };
    }
    const parts = splitUri(url);
    if (this.callbacks.matches(parts)) return { action: "forward", url };
    if (parts.origin !== null && parts.origin === this.widgetOrigin) return { action: "load" };
    if (parts.scheme === "https" && parts.origin !== null) return { action: "external", url };
    return {
      action: "block",
      reason: `scheme '${parts.scheme ?? "none"}' is neither the widget's origin, a callback nor https`,
    };
  }
}
