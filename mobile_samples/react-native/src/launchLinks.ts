/**
 * The URL the app was launched with, handed to the flow once.
 *
 * `Linking.getInitialURL()` answers the same URL for as long as the launching Intent lives: after the
 * screen remounts, and after Android relaunches the task from Recents, which re-delivers the original
 * Intent even once the process has died. Handing an old callback to the flow again would forward it a
 * second time, possibly to a newer session (the callback URLs are the same for every session). So a
 * launch URL, once handled, is remembered (in memory and in storage) and not handled again.
 *
 * Only a fingerprint is stored: an application link's query carries the widget's access token.
 */
export interface KeyValueStorage {
  getItem(key: string): Promise<string | null>;
  setItem(key: string, value: string): Promise<void>;
}

export class LaunchLinks {
  private handledHere: string | null = null;

  constructor(
    private readonly storage: KeyValueStorage,
    private readonly key = "ofda.handledLaunchLink",
  ) {}

  /** `url`, unless it is the launch URL handled already (in this run of the app or before a relaunch). */
  async unhandled(url: string | null): Promise<string | null> {
    if (url === null) return null;
    const print = fingerprint(url);
    return print === this.handledHere || print === (await this.storage.getItem(this.key)) ? null : url;
  }

  /** Remembers `url` as handled: call it when handing the URL to the flow. */
  async handled(url: string): Promise<void> {
    this.handledHere = fingerprint(url);
    await this.storage.setItem(this.key, this.handledHere);
  }
}

/**
 * 64 bits of FNV-1a over the UTF-16 code units (two 32-bit lanes with different offsets): enough to
 * tell one launch URL from the next. Written here because Hermes has no `crypto.subtle`, and a
 * collision costs only one ignored launch link (the flow still resumes the pending session).
 */
export function fingerprint(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    a = Math.imul(a ^ unit, 0x01000193) >>> 0;
    b = Math.imul(b ^ unit, 0x01000193) >>> 0;
  }
  return a.toString(16).padStart(8, "0") + b.toString(16).padStart(8, "0");
}
