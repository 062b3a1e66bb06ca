import AsyncStorage from "@react-native-async-storage/async-storage";
import React, { useState } from "react";
import { Button, Modal } from "react-native";
import { SafeAreaProvider, SafeAreaView } from "react-native-safe-area-context";

import { BackendClient, type IdentificationInfo, type SessionRequest } from "./src/backendClient";
import { ConsentsScreen } from "./src/ConsentsScreen";
import { LaunchLinks } from "./src/launchLinks";
import { WidgetScreen } from "./src/WidgetScreen";
import { WidgetFlow, type PendingSession, type PendingSessionStore } from "./src/widgetFlow";

// Development settings: `ofda run --host 0.0.0.0` on your laptop, PUBLIC_BASE_URL set to the same
// address, and a token from `ofda token <user>` (see README.md). A real app gets its token from its
// own sign-in.
const BACKEND_URL = "http://192.168.1.20:8000";
const DEV_TOKEN = "paste the output of `ofda token demo-user` here";
// Where the widget is served: the backend itself in emulator mode, https://widget.belvo.io with Belvo.
const WIDGET_ORIGIN = BACKEND_URL;
// The backend's APPLICATION_LINK (App2App): the bank sends the user back to the app through it. It
// must be a verified App Link / universal link of this app (see README.md).
const APPLICATION_LINK = "https://api.example.com/belvo/app2app";

const PENDING_KEY = "ofda.pendingSession";

/** The pending session id (and an undelivered callback), never the widget URL, in AsyncStorage. */
const asyncStorageStore: PendingSessionStore = {
  async load(): Promise<PendingSession | null> {
    const raw = await AsyncStorage.getItem(PENDING_KEY);
    if (raw === null) return null;
    const value: unknown = JSON.parse(raw);
    if (typeof value !== "object" || value === null || typeof (value as PendingSession).sessionId !== "string")
      return null;
    const pending = value as PendingSession;
    return {
      sessionId: pending.sessionId,
      undeliveredCallback: typeof pending.undeliveredCallback === "string" ? pending.undeliveredCallback : null,
    };
  },
  async save(pending: PendingSession): Promise<void> {
    await AsyncStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  },
  async clear(): Promise<void> {
    await AsyncStorage.removeItem(PENDING_KEY);
  },
};

// Created once, outside any render: the screen's effects depend on them, and a new flow per render
// would resume the session again and remount the widget.
const client = new BackendClient(BACKEND_URL, () => DEV_TOKEN);
const flow = new WidgetFlow(client, asyncStorageStore, {
  widgetOrigin: WIDGET_ORIGIN,
  applicationLink: APPLICATION_LINK,
});
const launchLinks = new LaunchLinks(AsyncStorage);
// A real app takes the CPF and name from its own sign-up; this is the contract's example.
const IDENTIFICATION: IdentificationInfo = [{ type: "CPF", number: "76109277673", name: "Ralph Bragg" }];
// It names no bank: the widget shows its bank picker (and the sandbox's down, busy and disabled banks).
const REQUEST: SessionRequest = { identification_info: IDENTIFICATION };

export default function App(): React.JSX.Element {
  // The consents screen opens over the widget screen, which stays mounted (and its session with it).
  const [consentsOpen, setConsentsOpen] = useState(false);
  return (
    <SafeAreaProvider>
      <WidgetScreen flow={flow} request={REQUEST} launchLinks={launchLinks} />
      {/* The easy-to-find way to the user's consents the Open Finance rules ask for. */}
      <SafeAreaView edges={["bottom", "left", "right"]}>
        <Button title="Your connections and data sharing" onPress={() => setConsentsOpen(true)} />
      </SafeAreaView>
      <Modal visible={consentsOpen} animationType="slide" onRequestClose={() => setConsentsOpen(false)}>
        <SafeAreaProvider>
          <ConsentsScreen client={client} identification={IDENTIFICATION} onClose={() => setConsentsOpen(false)} />
        </SafeAreaProvider>
      </Modal>
    </SafeAreaProvider>
  );
}
