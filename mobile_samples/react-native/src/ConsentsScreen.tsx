import React, { useCallback, useEffect, useState } from "react";
import { AppState, Button, Linking, ScrollView, StyleSheet, Text, View } from "react-native";
import { SafeAreaView } from "react-native-safe-area-context";

import type { BackendClient, IdentificationInfo } from "./backendClient";
import { consentBadge, PUBLIC_PORTAL_URL, type UserLink } from "./consents";

interface Props {
  readonly client: BackendClient;
  /** Who the user is (from your own sign-up): the portal and the renewal are minted for them. */
  readonly identification: IdentificationInfo;
  readonly onClose: () => void;
}

type State =
  | { readonly kind: "loading" }
  | { readonly kind: "failed"; readonly message: string }
  | { readonly kind: "links"; readonly links: readonly UserLink[] };

/**
 * My Belvo Portal is Belvo's page, so it opens with `Linking.openURL`, in the user's browser, never in
 * the widget's WebView: a full browser with its address bar, no dependency beyond React Native, and the
 * URL (it carries an access token) never passes through the app's own web content. An app that already
 * ships an in-app browser module (`expo-web-browser`, `react-native-inappbrowser-reborn`) can open it
 * there instead (SFSafariViewController / Custom Tabs), keeping the user in the app. The URL is never
 * logged or stored.
 */
function openPortal(url: string): void {
  void Linking.openURL(url);
}

/**
 * The user's connected banks and their Open Finance consents: "Manage my data sharing" opens My Belvo
 * Portal, each link shows Belvo's status and a badge when its consent is about to expire or expired,
 * with "Renew" opening the portal in renew mode. The list is read again when the user comes back.
 */
export function ConsentsScreen({ client, identification, onClose }: Props): React.JSX.Element {
  const [state, setState] = useState<State>({ kind: "loading" });
  const [note, setNote] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    try {
      setState({ kind: "links", links: await client.listLinks() });
    } catch (error) {
      // An HTTP status and error code, never a URL.
      setState({ kind: "failed", message: error instanceof Error ? error.message : "unexpected failure" });
    }
  }, [client]);

  // On opening, and each time the app comes back to the foreground (from the portal, where the user
  // may have renewed or revoked a consent).
  useEffect(() => {
    void refresh();
    const subscription = AppState.addEventListener("change", (status) => {
      if (status === "active") void refresh();
    });
    return () => subscription.remove();
  }, [refresh]);

  // The portal showing this user's consents; should the backend not answer, the public portal (where
  // the user signs in themselves) still leads to them.
  const manage = async (): Promise<void> => {
    try {
      openPortal((await client.openConsentPortal(identification)).url);
    } catch {
      openPortal(PUBLIC_PORTAL_URL);
    }
  };

  const renew = async (link: UserLink): Promise<void> => {
    try {
      openPortal((await client.renewConsent(link.id, identification)).url);
    } catch (error) {
      setNote(`This consent cannot be renewed: ${error instanceof Error ? error.message : "unexpected failure"}`);
    }
  };

  return (
    <SafeAreaView style={styles.fill} edges={["top", "bottom", "left", "right"]}>
      <ScrollView contentContainerStyle={styles.content}>
        <Button title="Manage my data sharing" onPress={() => void manage()} />
        {note !== null && <Text style={styles.note}>{note}</Text>}
        {state.kind === "loading" && <Text>Loading your connections…</Text>}
        {state.kind === "failed" && <Text>Your connections could not be read: {state.message}</Text>}
        {state.kind === "links" && state.links.length === 0 && <Text>No bank connected yet.</Text>}
        {state.kind === "links" &&
          state.links.map((link) => <LinkRow key={link.id} link={link} onRenew={() => void renew(link)} />)}
        <Button title="Close" onPress={onClose} />
      </ScrollView>
    </SafeAreaView>
  );
}

function LinkRow({ link, onRenew }: { link: UserLink; onRenew: () => void }): React.JSX.Element {
  const badge = consentBadge(link);
  const dueDate = link.consent?.dueDate?.split("T")[0];
  return (
    <View style={styles.row}>
      <Text style={styles.name}>{link.consent?.institutionDisplayName ?? link.institution}</Text>
      <Text>Connection: {link.status ?? "unknown"}</Text>
      {badge === "about_to_expire" && (
        <Text style={[styles.badge, styles.soon]}>Consent expires soon{dueDate === undefined ? "" : ` (${dueDate})`}</Text>
      )}
      {badge === "expired" && (
        <Text style={[styles.badge, styles.expired]}>Consent expired: this bank&apos;s data no longer updates</Text>
      )}
      {badge !== null && <Button title="Renew" onPress={onRenew} />}
    </View>
  );
}

const styles = StyleSheet.create({
  fill: { flex: 1 },
  content: { padding: 24, gap: 12 },
  note: { padding: 8, backgroundColor: "#fff4d6" },
  row: { paddingVertical: 12, borderBottomWidth: StyleSheet.hairlineWidth, gap: 4 },
  name: { fontSize: 16, fontWeight: "600" },
  badge: { alignSelf: "flex-start", paddingHorizontal: 8, paddingVertical: 2, borderRadius: 8, overflow: "hidden" },
  soon: { backgroundColor: "#fff4d6" },
  expired: { backgroundColor: "#fde2e1" },
});
