import React, { useCallback, useEffect, useEffectEvent, useMemo, useState } from "react";
import { ActivityIndicator, Button, Linking, StyleSheet, Text, View } from "react-native";
import { SafeAreaView } from "react-native-safe-area-context";
import { WebView, type WebViewProps } from "react-native-webview";
import type { ShouldStartLoadRequest } from "react-native-webview/lib/WebViewTypes";

import type { SessionRequest } from "./backendClient";
import type { DeeplinkEvent } from "./deeplinks";
import type { LaunchLinks } from "./launchLinks";
import type { NavigationPolicy } from "./navigationPolicy";
import type { Screen, WidgetFlow } from "./widgetFlow";

interface Props {
  readonly flow: WidgetFlow;
  /** The session to start when nothing is pending (the user's CPF and name come from your own sign-up). */
  readonly request: SessionRequest;
  /** Hands out the URL the app was launched with once (see launchLinks.ts). */
  readonly launchLinks: LaunchLinks;
}

/** What is on screen: a message, or the widget with the URL it was opened at and its navigation policy. */
type State =
  | { readonly kind: "idle" }
  | { readonly kind: "busy" }
  | { readonly kind: "failed"; readonly message: string }
  | { readonly kind: "widget"; readonly widgetUrl: string; readonly policy: NavigationPolicy }
  | Exclude<Screen, { kind: "widget" } | { kind: "keep-widget" }>;

/**
 * The hosted widget in a WebView that loads only the widget's origin, hands the session's callback
 * URLs to the backend, opens the bank (App2App) outside, and blocks everything else; then shows the
 * backend's verdict. Resumes a pending session when the app was killed mid-widget, and reopens the
 * widget when the bank sends the user back through the application link.
 */
export function WidgetScreen({ flow, request, launchLinks }: Props): React.JSX.Element {
  const [state, setState] = useState<State>({ kind: "busy" });
  const [note, setNote] = useState<string | null>(null);

  // A "keep-widget" answer leaves the widget as it is (reloading it would lose where the user is, and
  // after App2App the URL it was opened at is not the session's first one); the rest replace it.
  const show = useCallback((screen: Screen | null) => {
    if (screen === null) return setState({ kind: "idle" });
    if (screen.kind === "keep-widget") return setNote(describe(screen.event, screen.refusedCode));
    setNote(null);
    setState(screen.kind === "widget" ? { kind: "widget", widgetUrl: screen.widgetUrl, policy: screen.policy } : screen);
  }, []);

  const run = useCallback(
    async (step: () => Promise<Screen | null>, keepWidget = false) => {
      if (!keepWidget) setState({ kind: "busy" });
      try {
        show(await step());
      } catch (error) {
        // The message names an HTTP status and error code, never a URL: widget URLs carry the token.
        setState({ kind: "failed", message: error instanceof Error ? error.message : "unexpected failure" });
      }
    },
    [show],
  );

  // The latest `run` for the link listener, without re-subscribing (and re-reading the launch URL)
  // when it changes.
  const onLink = useEffectEvent((url: string) => void run(() => flow.openedWith(url)));

  // On launch: the URL the app was launched with (once: see launchLinks.ts), else a pending session
  // (after the app was killed). Links the OS opens the app with later (App Links / universal links,
  // e.g. back from the bank) go to the flow too.
  useEffect(() => {
    let active = true;
    void (async () => {
      const url = await launchLinks.unhandled(await Linking.getInitialURL());
      if (!active) return;
      if (url !== null) void launchLinks.handled(url);
      void run(() => (url === null ? flow.resume() : flow.openedWith(url)));
    })();
    const subscription = Linking.addEventListener("url", ({ url }) => onLink(url));
    return () => {
      active = false;
      subscription.remove();
    };
  }, [flow, launchLinks, run]);

  const policy = state.kind === "widget" ? state.policy : null;

  const onShouldStartLoadWithRequest = (navigation: ShouldStartLoadRequest): boolean => {
    const decision = policy?.decide(navigation.url) ?? { action: "block" as const, reason: "no session" };
    // A frame inside the widget may load from the widget's origin only; it never leaves the app.
    if (!navigation.isTopFrame) return decision.action === "load";
    switch (decision.action) {
      case "load":
        return true;
      case "forward":
        // In the background (the flow sends one callback at a time): the widget stays on screen
        // unless the session ends.
        void run(() => flow.forward(decision.url), true);
        return false;
      case "external":
        // The bank's app or the browser (App2App): the bank login never happens in this WebView. The
        // bank sends the user back through the application link, which reaches the flow above.
        void Linking.openURL(decision.url);
        return false;
      case "block":
        return false;
    }
  };

  const start = (): void => void run(async () => flow.start(request));
  switch (state.kind) {
    case "idle":
      return <Message text="Connect your bank account through Open Finance." action="Connect" onPress={start} />;
    case "busy":
      return <ActivityIndicator style={styles.fill} />;
    case "failed":
      return (
        <Message
          text={`Could not reach the backend: ${state.message}`}
          action="Try again"
          onPress={() => void run(() => flow.resume())}
        />
      );
    case "retry-later":
      return (
        <Message
          text={`Your bank's answer is saved and will be sent again: ${state.reason}`}
          action="Send again"
          onPress={() => void run(() => flow.resume())}
        />
      );
    case "start-again":
      return <Message text="This connection cannot be resumed." action="Start again" onPress={start} />;
    case "outcome":
      return (
        <Message
          text={outcomeText(state.session.status, state.event)}
          action="Done"
          onPress={() => setState({ kind: "idle" })}
        />
      );
    case "widget":
      return (
        <WidgetView widgetUrl={state.widgetUrl} note={note} onShouldStartLoadWithRequest={onShouldStartLoadWithRequest} />
      );
  }
}

/** The widget inside the safe area (clear of the status bar, notch and gesture bar). */
function WidgetView({
  widgetUrl,
  note,
  onShouldStartLoadWithRequest,
}: {
  widgetUrl: string;
  note: string | null;
  onShouldStartLoadWithRequest: (navigation: ShouldStartLoadRequest) => boolean;
}): React.JSX.Element {
  // The same source object while the URL is the same: the WebView reloads only for a new widget URL.
  const source = useMemo(() => ({ uri: widgetUrl }), [widgetUrl]);
  return (
    <SafeAreaView style={styles.fill} edges={["top", "bottom", "left", "right"]}>
      {note !== null && <Text style={styles.note}>{note}</Text>}
      <WebView
        source={source}
        // Every navigation must reach onShouldStartLoadWithRequest: react-native-webview hands a URL
        // outside originWhitelist straight to Linking.openURL (and console.warn), so Belvo's
        // `originWhitelist={['your-url-here://*']}` would let the OS open intent:, other apps'
        // schemes and any https page. The policy decides instead. On Android, a navigation the
        // policy does not answer within 250 ms is blocked, not loaded: see patches/.
        originWhitelist={["*"]}
        onShouldStartLoadWithRequest={onShouldStartLoadWithRequest}
        {...SECURE_WEBVIEW_SETTINGS}
        style={styles.fill}
      />
    </SafeAreaView>
  );
}

/**
 * The WebView's settings (docs/security.md G4, G5). Checked against WebViewProps with `satisfies`:
 * `<WebView>` infers unknown props into its generic parameter, so a misspelt setting written as a
 * JSX attribute would pass the type check silently.
 */
const SECURE_WEBVIEW_SETTINGS = {
  // The widget is a JavaScript app; nothing else is enabled. No onMessage and no injected
  // JavaScript: the page gets no bridge into the app (docs/security.md G4).
  javaScriptEnabled: true,
  domStorageEnabled: true,
  // The page holds the widget's access token: nothing it stores (cookies, DOM storage,
  // cache) outlives this WebView (docs/security.md G5).
  incognito: true,
  cacheEnabled: false,
  allowFileAccess: false,
  allowFileAccessFromFileURLs: false,
  allowUniversalAccessFromFileURLs: false,
  mixedContentMode: "never",
  setSupportMultipleWindows: false,
  javaScriptCanOpenWindowsAutomatically: false,
  geolocationEnabled: false,
  saveFormDataDisabled: true,
  thirdPartyCookiesEnabled: false,
  sharedCookiesEnabled: false,
  allowsLinkPreview: false,
  dataDetectorTypes: "none",
  webviewDebuggingEnabled: __DEV__,
} satisfies WebViewProps;

function Message({ text, action, onPress }: { text: string; action: string; onPress: () => void }): React.JSX.Element {
  return (
    <View style={[styles.fill, styles.centred]}>
      <Text style={styles.message}>{text}</Text>
      <Button title={action} onPress={onPress} />
    </View>
  );
}

function outcomeText(status: string, event: DeeplinkEvent | null): string {
  switch (status) {
    case "succeeded":
      return "Your bank account is connected.";
    case "exited":
      return event?.type === "exit" && event.error !== null
        ? `You left the connection: ${event.error.message ?? event.error.code}`
        : "You left the connection.";
    case "failed":
      return event?.type === "error"
        ? `The connection failed: ${event.message ?? event.code}`
        : "The connection failed.";
    case "expired":
      return "The connection took too long and expired.";
    default:
      return `The connection is ${status}.`;
  }
}

function describe(event: DeeplinkEvent | null, refusedCode: string | null): string {
  if (event?.type === "warning") return event.message ?? event.code;
  return refusedCode === null ? "" : `The backend refused the bank's answer (${refusedCode}).`;
}

const styles = StyleSheet.create({
  fill: { flex: 1 },
  centred: { alignItems: "center", justifyContent: "center", padding: 24 },
  message: { fontSize: 16, marginBottom: 16, textAlign: "center" },
  note: { padding: 8, backgroundColor: "#fff4d6" },
});
