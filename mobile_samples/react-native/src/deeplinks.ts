/**
 * Belvo's hosted-widget callback deeplinks as typed events: the TypeScript mirror of the backend's
 * Python `deeplinks.parse`, rule for rule, held to the same fixture corpus (`deeplinks/fixtures/`).
 *
 * The app never acts on an event itself (the backend verifies a success against Belvo before it
 * counts, docs/security.md G2); the parser is here so the app can tell what it is forwarding, and so
 * that the rules exist once per platform and are all tested against one corpus.
 *
 * No WHATWG `URL` and no `TextDecoder`: React Native's `URL` does not split custom-scheme URLs the
 * way the backend does, and Hermes' `TextDecoder` is not guaranteed to be strict.
 *
 * @example
 * parse("myapp://success?link=CB65F82C-DC93-4D3E-8270-9A27528397F5&institution=ofmockbank_br_retail")
 * // => { type: "success", link_id: "cb65f82c-dc93-4d3e-8270-9a27528397f5", institution: "ofmockbank_br_retail", extra: {} }
 */

export type Extra = Readonly<Record<string, string>>;

export interface SuccessEvent {
  readonly type: "success";
  readonly link_id: string;
  readonly institution: string;
  readonly extra: Extra;
}

export interface ExitEvent {
  readonly type: "exit";
  readonly error: { readonly code: string; readonly message: string | null } | null;
  readonly institution: string | null;
  readonly step: string | null;
  readonly extra: Extra;
}

export interface ErrorEvent {
  readonly type: "error";
  readonly code: string;
  readonly message: string | null;
  readonly extra: Extra;
}

export interface WarningEvent {
  readonly type: "warning";
  readonly code: string;
  readonly message: string | null;
  readonly extra: Extra;
}

/**
 * App2App: the bank sent the user back to the app's application link. Open Belvo's widget with this
 * same `query` (raw, unchanged: Belvo may add keys) so the widget finishes the flow
 * (https://developers.belvo.com/docs/hosted-widget-app2app-ofda). `query` carries the widget's access
 * token: never log the event whole.
 */
export interface ResumeEvent {
  readonly type: "resume";
  readonly consent_id: string | null;
  readonly locale: string | null;
  readonly query: string;
  readonly extra: Extra;
}

/** The JSON of docs/contract.md sections 3 and 6, as `event.to_dict()` and every backend answer write it. */
export type DeeplinkEvent = SuccessEvent | ExitEvent | ErrorEvent | WarningEvent | ResumeEvent;

export type DeeplinkErrorCode = "invalid_deeplink" | "unknown_event";

/** `code` is `invalid_deeplink` or `unknown_event`, as in the backend's error body (docs/contract.md section 2). */
export class DeeplinkError extends Error {
  constructor(
    readonly code: DeeplinkErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "DeeplinkError";
  }
}

/**
 * The session's callback URLs, exactly as the backend sent them to Belvo; `application_link` (App2App,
 * optional) is the https link the bank sends the user back on.
 */
export interface CallbackUrlsJson {
  readonly success: string;
  readonly exit: string;
  readonly event: string;
  readonly application_link?: string | null;
}

/** Longest URL accepted (docs/contract.md section 3): bounds the work one deeplink can cause. */
export const MAX_LENGTH = 4096;

type Kind = "success" | "exit" | "event" | "resume";
type Pairs = ReadonlyArray<readonly [string, string]>;

const SUCCESS_PARAMETERS: ReadonlySet<string> = new Set(["link", "institution"]);
// The flattened names of Belvo's example URL (docs/belvo.md §3.2, §0.5).
const EXIT_PARAMETERS: ReadonlySet<string> = new Set([
  "last_encountered_error_code",
  "last_encountered_error_message",
  "meta_data_institution_name",
  "meta_data_step",
]);
const EVENT_PARAMETERS: ReadonlySet<string> = new Set(["error", "error_message", "warning", "warning_message"]);
const RESUME_PARAMETERS: ReadonlySet<string> = new Set(["access_token", "consent_id", "locale"]);
const RESERVED: Readonly<Record<Kind, ReadonlySet<string>>> = {
  success: SUCCESS_PARAMETERS,
  exit: EXIT_PARAMETERS,
  event: EVENT_PARAMETERS,
  resume: RESUME_PARAMETERS,
};
const CALLBACK_NAMES: Readonly<Record<Kind, string>> = {
  success: "success",
  exit: "exit",
  event: "event",
  resume: "application_link",
};

// Errors and warnings share the `event` callback and are told apart by their query keys (docs/belvo.md
// §0.4); a URL named `error` or `warning` is read the same way, because Belvo's own guides
// register `<scheme>://error` as the event callback (docs/belvo.md §3.5).
const KIND_BY_NAME: ReadonlyMap<string, Kind> = new Map<string, Kind>([
  ["success", "success"],
  ["exit", "exit"],
  ["event", "event"],
  ["error", "event"],
  ["warning", "event"],
]);

const NEVER_CALLBACK_SCHEMES: ReadonlySet<string> = new Set([
  "javascript",
  "vbscript",
  "data",
  "file",
  "blob",
  "about",
  "intent",
]);
// Characters allowed raw: RFC 3986's unreserved and reserved ones and '%', less '[', ']' (IPv6 hosts,
// never a callback) and '#' (a fragment). Everything else must arrive percent-encoded.
const RAW_FORBIDDEN = /[^A-Za-z0-9\-._~:/?@!$&'()*+,;=%]/;
const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;
const SPLIT = /^(?:([^:/?]*):)?(?:\/\/([^/?]*))?([^?]*)(?:\?([\s\S]*))?$/;
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*$/;
const HOST = /^[A-Za-z0-9._~-]*$/;
const PORT = /^[0-9]{1,5}$/;
const DOT_SEGMENTS: ReadonlySet<string> = new Set([".", "..", "%2e", "%2e%2e", ".%2e", "%2e."]);
const PORT_SCHEMES: ReadonlySet<string> = new Set(["http", "https"]);
// C0/C1 controls, DEL, bidi overrides and isolates (log injection, display spoofing: docs/security.md E).
// Lone surrogates cannot come out of the strict UTF-8 decoder below.
const FORBIDDEN_TEXT = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
// A UUID with hyphens, ASCII only (no braces, "urn:uuid:" or missing hyphens).
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

function invalid(expected: string): never {
  throw new DeeplinkError("invalid_deeplink", `expected ${expected}`);
}

function unknown(expected: string): never {
  throw new DeeplinkError("unknown_event", `expected ${expected}`);
}

/** A URL checked against the deeplink rules and split; scheme and authority lowercased. */
interface DeeplinkUrl {
  readonly scheme: string;
  readonly authority: string | null;
  readonly path: string;
  readonly query: string | null;
}

function hostOf(url: DeeplinkUrl): string {
  return (url.authority ?? "").split(":")[0] ?? "";
}

function splitUrl(url: string, field: string): DeeplinkUrl {
  const fail = (expected: string): never => invalid(`${expected} (${field})`);
  if (url.length > MAX_LENGTH) fail(`at most ${MAX_LENGTH} characters, got ${url.length}`);
  const bad = RAW_FORBIDDEN.exec(url);
  if (bad !== null) {
    if (bad[0] === "#") fail("no fragment ('#...') in a Belvo deeplink");
    fail(
      `only characters allowed raw in a URL (RFC 3986), got U+${bad[0].charCodeAt(0).toString(16).padStart(4, "0")} at position ${bad.index}`,
    );
  }
  const escape = BAD_ESCAPE.exec(url);
  if (escape !== null) fail(`'%' followed by two hex digits at position ${escape.index}`);
  const match = SPLIT.exec(url);
  if (match === null) throw new Error("every group of the split pattern is optional");
  const [, rawScheme, rawAuthority, rawPath, query] = match;
  if (rawScheme === undefined) return fail("a URL with a scheme, like 'myapp://success?...'");
  if (!SCHEME.test(rawScheme)) fail(`a scheme of a letter then letters, digits, '+', '-' or '.', got '${rawScheme}'`);
  const scheme = rawScheme.toLowerCase();
  const authority = rawAuthority === undefined ? null : checkAuthority(rawAuthority, scheme, fail);
  const path = rawPath ?? "";
  if (
    (path.includes(".") || path.includes("%2")) &&
    path.split("/").some((segment) => DOT_SEGMENTS.has(segment.toLowerCase()))
  ) {
    fail("a path without '.' or '..' segments");
  }
  return { scheme, authority, path, query: query ?? null };
}

function checkAuthority(authority: string, scheme: string, fail: (expected: string) => never): string {
  // `myapp://success@evil` names the host `evil` to RFC 3986 but `success` to a naive reader.
  if (authority.includes("@")) fail("no user information ('...@') in the host");
  const colon = authority.indexOf(":");
  const host = colon < 0 ? authority : authority.slice(0, colon);
  if (!HOST.test(host)) fail(`a host of letters, digits, '.', '_', '~' or '-', got '${host}'`);
  if (colon >= 0) {
    const port = authority.slice(colon + 1);
    if (!PORT_SCHEMES.has(scheme)) fail("a port only on http(s) URLs");
    if (!PORT.test(port) || Number(port) > 65535) fail(`a port from 0 to 65535, got '${port}'`);
  }
  return authority.toLowerCase();
}

/**
 * The query's (name, value) pairs in order: `&`-separated, `+` a space, percent-decoded exactly once,
 * strict UTF-8. Empty fields are skipped; a field without `=` is a name with an empty value.
 */
function decodeQuery(query: string | null): Pairs {
  const pairs: Array<readonly [string, string]> = [];
  for (const item of (query ?? "").split("&")) {
    if (item === "") continue;
    const equals = item.indexOf("=");
    const rawName = equals < 0 ? item : item.slice(0, equals);
    if (rawName === "") invalid("a parameter name before '='");
    const name = decodeComponent(rawName, "url");
    pairs.push([name, decodeComponent(equals < 0 ? "" : item.slice(equals + 1), name)]);
  }
  return pairs;
}

function decodeComponent(raw: string, field: string): string {
  const text = raw.replace(/\+/g, " ");
  if (!text.includes("%")) return text;
  // Escapes were checked by splitUrl; every other character is ASCII.
  const bytes: number[] = [];
  for (let i = 0; i < text.length;) {
    if (text[i] === "%") {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 3;
    } else {
      bytes.push(text.charCodeAt(i));
      i += 1;
    }
  }
  const decoded = strictUtf8(bytes) ?? invalid(`UTF-8 after percent-decoding ${field}`);
  const bad = FORBIDDEN_TEXT.exec(decoded);
  if (bad !== null)
    invalid(`no control or bidi characters in ${field}, got U+${bad[0].charCodeAt(0).toString(16).padStart(4, "0")}`);
  return decoded;
}

/** Well-formed UTF-8 only (Unicode table 3-7: no overlong forms, surrogates or values past U+10FFFF); null otherwise. */
export function strictUtf8(bytes: readonly number[]): string | null {
  let out = "";
  for (let i = 0; i < bytes.length;) {
    const b0 = bytes[i] ?? 0;
    let length: number;
    let min: number;
    let codePoint: number;
    if (b0 < 0x80) [length, min, codePoint] = [1, 0, b0];
    else if (b0 >= 0xc2 && b0 <= 0xdf) [length, min, codePoint] = [2, 0x80, b0 & 0x1f];
    else if (b0 >= 0xe0 && b0 <= 0xef) [length, min, codePoint] = [3, 0x800, b0 & 0x0f];
    else if (b0 >= 0xf0 && b0 <= 0xf4) [length, min, codePoint] = [4, 0x10000, b0 & 0x07];
    else return null;
    if (i + length > bytes.length) return null;
    for (let k = 1; k < length; k++) {
      const b = bytes[i + k] ?? 0;
      if ((b & 0xc0) !== 0x80) return null;
      codePoint = (codePoint << 6) | (b & 0x3f);
    }
    if (codePoint < min || codePoint > 0x10ffff || (codePoint >= 0xd800 && codePoint <= 0xdfff)) return null;
    out += String.fromCodePoint(codePoint);
    i += length;
  }
  return out;
}

interface Route {
  readonly kind: Kind;
  readonly url: string;
  readonly scheme: string;
  readonly authority: string;
  readonly path: string;
  readonly query: Pairs;
}

const samePairs = (a: Pairs, b: Pairs): boolean =>
  a.length === b.length && a.every(([n, v]) => b.some(([m, w]) => n === m && v === w));
const carries = (pairs: Pairs, wanted: Pairs): boolean =>
  wanted.every(([n, v]) => pairs.some(([m, w]) => n === m && v === w));
// Belvo's App2App page shows the redirect as `.../belvo-widget/?...` for a link written
// `.../belvo-widget`: on the application link, one trailing "/" is not a different link.
const withoutTrailingSlash = (path: string): string =>
  path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;

/**
 * The session's callback URLs, checked when made. A URL is on one when scheme, authority and path
 * are equal (an empty path equals "/") and it carries every parameter of that callback's own query.
 */
export class CallbackUrls {
  private readonly routes: readonly Route[];

  constructor(readonly urls: CallbackUrlsJson) {
    const link = urls.application_link;
    this.routes = (["success", "exit", "event"] as const).map((kind) => makeRoute(kind, urls[kind]));
    if (link !== undefined && link !== null) this.routes = [...this.routes, makeRoute("resume", link)];
    this.routes.forEach((a, i) => {
      for (const b of this.routes.slice(i + 1)) {
        const samePlace = a.scheme === b.scheme && a.authority === b.authority;
        // Whatever its own query, a callback on the application link's path would take resume URLs.
        const onLink = b.kind === "resume" && samePlace && withoutTrailingSlash(a.path) === b.path;
        if ((samePlace && a.path === b.path && samePairs(a.query, b.query)) || onLink) {
          const [first, second] = [CALLBACK_NAMES[a.kind], CALLBACK_NAMES[b.kind]];
          invalid(`distinct callback URLs, ${first} and ${second} are the same: '${a.url}'`);
        }
      }
    });
  }

  /**
   * From JSON: an object with exactly the keys success, exit and event, each a string, and optionally
   * application_link (a string or null).
   */
  static fromJson(value: unknown): CallbackUrls {
    if (typeof value !== "object" || value === null || Array.isArray(value))
      return invalid("callback_urls as an object with success, exit, event");
    const record = value as Record<string, unknown>;
    const kinds = ["success", "exit", "event"];
    const missing = kinds.filter((k) => !(k in record));
    const unknownKeys = Object.keys(record).filter((k) => !kinds.includes(k) && k !== "application_link");
    if (missing.length > 0 || unknownKeys.length > 0) {
      invalid(
        "callback_urls with the keys success, exit, event (and optionally application_link); " +
          `missing [${missing.join(", ")}], unknown [${unknownKeys.join(", ")}]`,
      );
    }
    const [success, exit, event] = kinds.map((k) => {
      const url = record[k];
      return typeof url === "string" ? url : invalid(`callback_urls.${k} as a string`);
    });
    const link = record["application_link"];
    if (link !== undefined && link !== null && typeof link !== "string")
      invalid("callback_urls.application_link as a string");
    return new CallbackUrls({
      success: success ?? "",
      exit: exit ?? "",
      event: event ?? "",
      application_link: typeof link === "string" ? link : null,
    });
  }

  /** The schemes of success, exit and event; not the application link's (https URLs elsewhere are no callbacks). */
  get schemes(): ReadonlySet<string> {
    return new Set(this.routes.filter((r) => r.kind !== "resume").map((r) => r.scheme));
  }

  /** The callback `url` is on, or null; the most specific one (whose own query names the most parameters) wins. */
  route(url: DeeplinkUrl, pairs: Pairs): Route | null {
    const path = url.path === "" ? "/" : url.path;
    const candidates = this.routes.filter(
      (r) =>
        r.scheme === url.scheme &&
        r.authority === (url.authority ?? "") &&
        r.path === (r.kind === "resume" ? withoutTrailingSlash(path) : path) &&
        carries(pairs, r.query),
    );
    let best: Route | null = null;
    for (const candidate of candidates)
      if (best === null || candidate.query.length > best.query.length) best = candidate;
    if (best === null) return null;
    const tied = candidates.find((c) => c !== best && c.query.length === best.query.length);
    if (tied !== undefined) invalid(`the URL on one callback URL, it is on both ${best.kind} and ${tied.kind}`);
    return best;
  }
}

function makeRoute(kind: Kind, url: string): Route {
  const field = `callback_urls.${CALLBACK_NAMES[kind]}`;
  const parts = splitUrl(url, field);
  if (NEVER_CALLBACK_SCHEMES.has(parts.scheme))
    invalid(`an app or https callback URL, got scheme '${parts.scheme}' (${field})`);
  let path = parts.path === "" ? "/" : parts.path;
  if (kind === "resume") {
    if (!PORT_SCHEMES.has(parts.scheme) || !parts.authority)
      invalid(`the application link as an https universal link / App Link (${field})`);
    // Belvo appends `?access_token=...` to the link as given.
    if (parts.query !== null) invalid(`the application link without a query ('?...') (${field})`);
    path = withoutTrailingSlash(path);
  }
  const pairs = decodeQuery(parts.query);
  const names = pairs.map(([name]) => name);
  const clash =
    names.filter((n) => RESERVED[kind].has(n)).sort()[0] ?? names.filter((n, i) => names.indexOf(n) !== i).sort()[0];
  if (clash !== undefined) {
    invalid(
      `the ${CALLBACK_NAMES[kind]} callback URL's own query to leave Belvo's parameters alone and name each parameter once, got '${clash}'`,
    );
  }
  // A callback's own query is a set: a parameter given twice was refused above.
  return {
    kind,
    url,
    scheme: parts.scheme,
    authority: parts.authority ?? "",
    path,
    query: pairs,
  };
}

function kindByName(url: DeeplinkUrl): Kind {
  if (NEVER_CALLBACK_SCHEMES.has(url.scheme)) unknown(`an app or https deeplink, got scheme '${url.scheme}'`);
  const trimmed = url.path.replace(/\/+$/, "");
  const name = trimmed.slice(trimmed.lastIndexOf("/") + 1) || hostOf(url);
  return (
    KIND_BY_NAME.get(name) ??
    unknown(`the last path segment or the host to be success, exit, error, warning or event, got '${name}'`)
  );
}

/** The event's own non-empty values and `extra` (first value wins); an own parameter given twice is invalid. */
function collect(
  pairs: Pairs,
  known: ReadonlySet<string>,
  consumed: ReadonlySet<string>,
): [Map<string, string>, Record<string, string>] {
  const values = new Map<string, string>();
  const extra: Record<string, string> = {};
  const seen = new Set<string>();
  for (const [name, value] of pairs) {
    if (known.has(name) || consumed.has(name)) {
      if (seen.has(name)) invalid(`${name} once, got it more than once`);
      seen.add(name);
      if (value !== "") values.set(name, value);
    } else if (!Object.prototype.hasOwnProperty.call(extra, name)) {
      // defineProperty, not assignment: a parameter named "__proto__" must stay an ordinary key.
      Object.defineProperty(extra, name, { value, enumerable: true, writable: true, configurable: true });
    }
  }
  return [values, extra];
}

function success(pairs: Pairs, consumed: ReadonlySet<string>): SuccessEvent {
  const [values, extra] = collect(pairs, SUCCESS_PARAMETERS, consumed);
  const link = values.get("link") ?? invalid("a non-empty link on a success deeplink");
  if (!UUID.test(link)) invalid(`link as a UUID like 'cb65f82c-dc93-4d3e-8270-9a27528397f5', got '${link}'`);
  const institution = values.get("institution") ?? invalid("a non-empty institution on a success deeplink");
  return { type: "success", link_id: link.toLowerCase(), institution, extra };
}

function exit(pairs: Pairs, consumed: ReadonlySet<string>): ExitEvent {
  const [values, extra] = collect(pairs, EXIT_PARAMETERS, consumed);
  const code = values.get("last_encountered_error_code") ?? null;
  const message = values.get("last_encountered_error_message") ?? null;
  // Belvo sends the message only with its code.
  if (code === null && message !== null)
    invalid("last_encountered_error_code with last_encountered_error_message, got only the message");
  return {
    type: "exit",
    error: code === null ? null : { code, message },
    institution: values.get("meta_data_institution_name") ?? null,
    step: values.get("meta_data_step") ?? null,
    extra,
  };
}

function coded(pairs: Pairs, consumed: ReadonlySet<string>): ErrorEvent | WarningEvent {
  const [values, extra] = collect(pairs, EVENT_PARAMETERS, consumed);
  const error = values.get("error");
  const warning = values.get("warning");
  if (error !== undefined && warning !== undefined) invalid("either error or warning on an event deeplink, got both");
  if (error !== undefined) {
    if (values.has("warning_message")) invalid("no warning_message on a deeplink carrying error");
    return { type: "error", code: error, message: values.get("error_message") ?? null, extra };
  }
  if (warning !== undefined) {
    if (values.has("error_message")) invalid("no error_message on a deeplink carrying warning");
    return { type: "warning", code: warning, message: values.get("warning_message") ?? null, extra };
  }
  return unknown(
    `error or warning on an event deeplink, got parameters [${[...values.keys()].sort().concat(Object.keys(extra)).join(", ")}]`,
  );
}

// App2App: the bank sent the user back on the application link; the widget reopens with this same query.
function resume(query: string, pairs: Pairs): ResumeEvent {
  const [values, extra] = collect(pairs, RESUME_PARAMETERS, new Set());
  if (!values.has("access_token")) invalid("a non-empty access_token in a resume deeplink's query");
  const consentId = values.get("consent_id") ?? null;
  return { type: "resume", consent_id: consentId, locale: values.get("locale") ?? null, query, extra };
}

/** The access token a resume event's query carries (null in an event read back without it). Never log it. */
export function accessToken(event: ResumeEvent): string | null {
  const found = decodeQuery(event.query).find(([name]) => name === "access_token");
  return found === undefined || found[1] === "" ? null : found[1];
}

/**
 * Parses `url`. With `callbackUrls` (the session's, as sent to Belvo) the URL's kind is the callback
 * it is on (docs/contract.md section 3, rule 1); otherwise, or for a URL on one of their schemes that is on
 * none of them, its last non-empty path segment or else its host (rule 2). Throws `DeeplinkError`
 * and nothing else.
 */
export function parse(url: string, callbackUrls?: CallbackUrls | CallbackUrlsJson | null): DeeplinkEvent {
  const parts = splitUrl(url, "url");
  const pairs = decodeQuery(parts.query);
  let kind: Kind;
  let consumed: ReadonlySet<string> = new Set();
  if (callbackUrls === undefined || callbackUrls === null) {
    kind = kindByName(parts);
  } else {
    const callbacks = callbackUrls instanceof CallbackUrls ? callbackUrls : CallbackUrls.fromJson(callbackUrls);
    const route = callbacks.route(parts, pairs);
    if (route !== null) {
      kind = route.kind;
      consumed = new Set(route.query.map(([name]) => name));
    } else if (callbacks.schemes.has(parts.scheme)) {
      kind = kindByName(parts);
    } else {
      const link = callbacks.urls.application_link;
      const onLink = link === undefined || link === null ? "" : ` or on the application link '${link}'`;
      return unknown(
        `a URL on the callback URLs (${[...callbacks.schemes].sort().join(", ")}://...)${onLink}, ` +
          `got scheme '${parts.scheme}'`,
      );
    }
  }
  switch (kind) {
    case "success":
      return success(pairs, consumed);
    case "exit":
      return exit(pairs, consumed);
    case "event":
      return coded(pairs, consumed);
    case "resume":
      return resume(parts.query ?? "", pairs);
  }
}
