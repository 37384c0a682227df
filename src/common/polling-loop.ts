/**
 * Runs a background job's passes one at a time: again at once when a pass says there is more or
 * the loop was kicked meanwhile, otherwise after `pollMs`. A failed pass is reported to `failed`
 * and the loop goes on. It never keeps the process alive; `stop` waits for a pass under way.
 */
export class PollingLoop {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stoppedFlag = true;

  constructor(
    private readonly pass: () => Promise<boolean>,
    private readonly pollMs: number,
    private readonly failed: (error: unknown) => void,
  ) {}

  /** Whether the loop was stopped (a long pass checks this between steps). */
  get stopped(): boolean {
    return this.stoppedFlag;
  }

  start(firstAfterMs = 0): void {
    this.stoppedFlag = false;
    this.schedule(firstAfterMs);
  }

  /** A pass soon: at once, or right after the one under way. */
  kick(): void {
    if (this.stoppedFlag) return;
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stoppedFlag = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stoppedFlag) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.pass()
        .catch((error) => {
          this.failed(error);
          return false;
        })
        .then((more) => {
          this.running = undefined;
          const soon = this.again || more;
          this.again = false;
          this.schedule(soon ? 0 : this.pollMs);
        });
    }, ms);
    this.timer.unref();
  }
}
