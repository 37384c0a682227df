import { EventEmitter } from 'node:events';

/** A transaction committed channel events; everything up to `position` can be read. */
export interface EventsNotice {
  kind: 'events';
  organisationId: string;
  position: number;
}

/** A person lost access (archived): their sockets close at once, in every process. */
export interface RevokeNotice {
  kind: 'revoke';
  organisationId: string;
  teamMemberId?: string;
  patientId?: string;
}

/** A person's identity changed (permissions): processes drop what they cached of it. */
export interface IdentityNotice {
  kind: 'identity';
  organisationId: string;
  teamMemberId?: string;
  patientId?: string;
}

/** An organisation's messaging settings changed: processes drop what they cached of them. */
export interface SettingsNotice {
  kind: 'settings';
  organisationId: string;
}

/** Someone is typing; ephemeral, never stored. */
export interface TypingNotice {
  kind: 'typing';
  organisationId: string;
  channelId: string;
  teamMemberId?: string;
  patientId?: string;
  /** Whether only team members may be told (typing an internal note). */
  staffOnly: boolean;
  at: number;
}

/** What crosses the bus. Never message content: ids and positions only. */
export type BusNotice = EventsNotice | RevokeNotice | IdentityNotice | SettingsNotice | TypingNotice;

/**
 * Delivered locally, never published: the bus may have missed notices (its connection dropped
 * and came back), so every reader re-reads the log from its own position and re-checks access.
 */
export interface ResyncNotice {
  kind: 'resync';
}

export type BusListener = (notice: BusNotice | ResyncNotice) => void;

/**
 * Carries notices from the transaction that wrote events to every process's readers. Readers
 * treat a notice as a hint to read the log, so a lost notice delays delivery, never loses it.
 */
export interface EventBus {
  readonly name: string;
  publish(notice: BusNotice): Promise<void>;
  /** Listens for every notice; returns the function that stops listening. */
  subscribe(listener: BusListener): () => void;
  close(): Promise<void>;
}

/** Fans notices out to local listeners; the base of every bus. */
export class LocalListeners {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  add(listener: BusListener): () => void {
    this.emitter.on('notice', listener);
    return () => this.emitter.off('notice', listener);
  }

  deliver(notice: BusNotice | ResyncNotice): void {
    this.emitter.emit('notice', notice);
  }

  clear(): void {
    this.emitter.removeAllListeners();
  }
}

/** The default bus for a single process. */
export class InProcessEventBus implements EventBus {
  readonly name = 'in-process';
  private readonly listeners = new LocalListeners();

  async publish(notice: BusNotice): Promise<void> {
    this.listeners.deliver(notice);
  }

  subscribe(listener: BusListener): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

/** Parses a notice from another process; anything malformed is dropped (and logged by the caller). */
export function parseNotice(text: string): BusNotice | undefined {
  try {
    const value = JSON.parse(text) as BusNotice;
    if (typeof value !== 'object' || value === null || typeof value.organisationId !== 'string') return undefined;
    if (value.kind === 'events' && typeof value.position === 'number') return value;
    if (value.kind === 'revoke' || value.kind === 'identity' || value.kind === 'settings' || value.kind === 'typing') return value;
    return undefined;
  } catch {
    return undefined;
  }
}
