// Step 6, upload: the run's data files from local disk to the table location, while the next slice is
// extracted and written (at most `limit` uploads in flight, each buffering part size × queue size of the
// FileIO). Files carry the run id in their names, so a run that never commits leaves only orphans that
// `offload gc` can tell apart. Once every upload is done the fault point `after-data-upload` fires: all data
// files are in place, no metadata names them yet (`repair-after-upload` when a repair uploads).
import type { FileIO } from '../iceberg/io.js';
import { faultPoint, type FaultPoint } from './faults.js';
import type { WrittenFile } from './write.js';

export class Uploads {
  /** Every file whose upload began (what a failed run removes). */
  readonly started: string[] = [];
  private readonly pending: Array<Promise<void>> = [];
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly io: FileIO,
    private readonly limit: number,
  ) {}

  /** Uploads `f` when a slot is free; `finish` waits for it. */
  add(f: WrittenFile): void {
    this.pending.push(this.upload(f));
  }

  private async upload(f: WrittenFile): Promise<void> {
    while (this.active >= Math.max(1, this.limit)) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      this.started.push(f.dataFile.filePath);
      await this.io.write(f.dataFile.filePath, { file: f.localPath });
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  /** Waits for every upload: the run's data files are all in the table location. */
  async finish(
    table: string,
    point: Extract<FaultPoint, 'after-data-upload' | 'repair-after-upload'> = 'after-data-upload',
  ): Promise<void> {
    await Promise.all(this.pending);
    faultPoint(point, table);
  }

  /** After a failure: lets the uploads under way end, whatever their outcome. */
  async settle(): Promise<void> {
    await Promise.allSettled(this.pending);
  }
}
