import { EventEmitter } from 'node:events';

/** What crosses the bus: which channel moved and to which sequence number. Never content. */
export interface ChannelEventNotice {
  organisationId: string;
  channelId: string;
  seq: number;
}

export type NoticeListener = (notice: ChannelEventNotice) => void;

/**
 * Carries notices between the transaction that wrote an event and the subscriptions that read
 * it. Subscribers treat a notice as a hint to read the log, so a lost notice delays, never loses.
 */
export interface EventBus {
  publish(notice: ChannelEventNotice): Promise<void>;
  /** Listens for notices of one channel; returns the function that stops listening. */
  subscribe(channelId: string, listener: NoticeListener): () => void;
  close(): Promise<void>;
}

/** The default bus for a single process. */
export class InProcessEventBus implements EventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  async publish(notice: ChannelEventNotice): Promise<void> {
    this.emitter.emit(notice.channelId, notice);
  }

  subscribe(channelId: string, listener: NoticeListener): () => void {
    this.emitter.on(channelId, listener);
    return () => this.emitter.off(channelId, listener);
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}
