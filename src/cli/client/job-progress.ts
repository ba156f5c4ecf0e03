/**
 * Shows a job's events as they arrive. On a terminal: one live progress bar per phase (cli-progress),
 * training phases carrying epoch, loss (with its CE and KD terms while distilling) and accuracy; each
 * bar stays on screen, full, when its phase ends. Elsewhere (pipes, CI logs): one plain line per phase
 * and per epoch, since redrawn bars would only fill a log with carriage returns.
 */
import cliProgress from 'cli-progress';
import type { EpochEvent as EpochData, MetricsEvent } from '../../ml/tfjs-free.js';
import { TRAINING_PHASES } from '../../contract/phases.js';
import { isTerminal } from '../../contract/statuses.js';
import type { JobEvent } from './api-client.js';

const isTraining = (phase: string) => (TRAINING_PHASES as readonly string[]).includes(phase);

export interface ProgressView {
  onEvent(event: JobEvent): void;
  /** Stops any live bar; call before printing anything else. */
  finish(): void;
}

export function createProgressView(stream: NodeJS.WriteStream = process.stderr): ProgressView {
  return stream.isTTY ? new BarsView(stream) : new LinesView(stream);
}

const label = (phase: string) => phase.replace(/_/g, ' ');
const pct = (v: number | null | undefined) => (typeof v === 'number' ? `${(v * 100).toFixed(1)}%` : '—');

function lossText(m: Pick<MetricsEvent, 'loss' | 'ce' | 'kd'>): string {
  return m.kd !== undefined && m.ce !== undefined ? `loss ${m.loss.toFixed(4)} (ce ${m.ce.toFixed(3)}, kd ${m.kd.toFixed(4)})` : `loss ${m.loss.toFixed(4)}`;
}

function epochText(e: EpochData): string {
  const val = e.val_accuracy === null ? '' : ` · val acc ${pct(e.val_accuracy)}`;
  return `${e.model} epoch ${e.epoch}/${e.epochs} · loss ${e.train_loss.toFixed(4)} · acc ${pct(e.train_accuracy)}${val}`;
}

function statusText(data: Record<string, unknown>): string {
  const error = data.error as { code?: string; message?: string } | undefined;
  return error ? `${data.status}: ${error.message ?? ''} (${error.code ?? 'error'})` : String(data.status);
}

/**
 * One cli-progress bar at a time, left on screen (full) when its phase ends. Nothing else is written
 * while a bar is live (cli-progress restores its saved cursor position on stop), so the latest epoch's
 * figures ride in the bar itself and warnings wait for the phase to end.
 */
class BarsView implements ProgressView {
  private current: { phase: string; bar: cliProgress.SingleBar; detail: string } | undefined;
  private held: string[] = [];

  constructor(private readonly stream: NodeJS.WriteStream) {}

  onEvent(event: JobEvent): void {
    if (event.type === 'phase') {
      this.startPhase(event.data.phase);
      return;
    }
    if (event.type === 'metrics') {
      const m = event.data as unknown as MetricsEvent;
      const current = this.ensurePhase(m.phase);
      const { epoch, epochs, step, steps } = m.progress;
      current.bar.setTotal(Math.max(1, epochs * steps));
      current.bar.update((epoch - 1) * steps + step, {
        detail: `· ${m.model} epoch ${epoch}/${epochs} · ${lossText(m)} · acc ${pct(m.accuracy)}${current.detail}`,
      });
    } else if (event.type === 'epoch') {
      const e = event.data as unknown as EpochData;
      const current = this.ensurePhase(e.phase);
      current.detail = e.val_accuracy === null ? '' : ` · val acc ${pct(e.val_accuracy)}`;
      current.bar.update({ detail: `· ${epochText(e)}` });
    } else if (event.type === 'log' && event.data.level === 'warn') {
      this.print(`   warning: ${event.data.message}`);
    } else if (event.type === 'status') {
      if (isTerminal(event.data.status)) this.completeCurrent();
      this.print(`● ${statusText(event.data)}`);
    }
  }

  private ensurePhase(phase: string): NonNullable<BarsView['current']> {
    if (this.current?.phase !== phase) this.startPhase(phase);
    return this.current!;
  }

  private startPhase(phase: string): void {
    this.completeCurrent();
    const bar = new cliProgress.SingleBar({
      stream: this.stream,
      format: ' {phase} |{bar}| {percentage}% {detail}',
      barsize: 24,
      hideCursor: true,
      barCompleteChar: '█',
      barIncompleteChar: '░',
      // Our own Ctrl-C handler says how to reattach; the bar must not swallow the signal.
      gracefulExit: false,
    });
    bar.start(1, 0, { phase: label(phase).padEnd(22), detail: '' });
    this.current = { phase, bar, detail: '' };
  }

  /** A phase that ended is shown full: the next phase starting is the proof it finished. */
  private completeCurrent(): void {
    if (!this.current) return;
    const bar = this.current.bar;
    bar.update(bar.getTotal());
    bar.stop();
    this.current = undefined;
    for (const line of this.held.splice(0)) this.stream.write(`${line}\n`);
  }

  private print(line: string): void {
    if (this.current) this.held.push(line);
    else this.stream.write(`${line}\n`);
  }

  finish(): void {
    this.completeCurrent();
  }
}

class LinesView implements ProgressView {
  constructor(private readonly stream: NodeJS.WritableStream) {}

  onEvent(event: JobEvent): void {
    if (event.type === 'phase') this.stream.write(`▸ ${label(event.data.phase)}${isTraining(event.data.phase) ? '' : ' …'}\n`);
    else if (event.type === 'epoch') this.stream.write(`  ${epochText(event.data as unknown as EpochData)}\n`);
    else if (event.type === 'log' && event.data.level === 'warn') this.stream.write(`  warning: ${event.data.message}\n`);
    else if (event.type === 'status') this.stream.write(`● ${statusText(event.data)}\n`);
  }

  finish(): void {}
}
