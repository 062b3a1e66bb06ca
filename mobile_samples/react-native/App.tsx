import AsyncStorage from "@react-native-async-storage/async-storage";
import React, { useMemo } from "react";

import { BackendClient } from "./src/backendClient";
import { WidgetScreen } from "./src/WidgetScreen";
import { WidgetFlow, type PendingSession, type PendingSessionStore } from "./src/widgetFlow";

// Development settings: `ofda run --host 0.0.0.0` on your laptop, PUBLIC_BASE_URL set to the same
// address, and a token from `ofda token <user>` (see README.md). A real app gets its token from its
// own sign-in.
const BACKEND_URL = "http://192.168.1.20:8000";
const DEV_TOKEN = "paste the output of `ofda token demo-user` here";

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

export default function App(): React.JSX.Element {
  const flow = useMemo(() => new WidgetFlow(new BackendClient(BACKEND_URL, () => DEV_TOKEN), asyncStorageStore), []);
  return (
    <WidgetScreen
      flow={flow}
      request={{
        identification_info: [{ type: "CPF", number: "76109277673", name: "Ralph Bragg" }],
        institutions: ["ofmockbank_br_retail"],
      }}
    />
  );
}
