// Which files snapshot expiry may delete: those reachable from the removed snapshots (their manifest
// lists, manifests, and data files) that no kept snapshot still reaches. Data files count as reached
// by a kept snapshot when they are live (ADDED or EXISTING) in it; a file a kept snapshot only records
// as DELETED is needed by none of them.
import type { FileIO } from './io.js';
import { mapConcurrent, readManifestEntries, readSnapshotManifests } from './reader.js';
import type { ManifestEntry, ManifestFile, Snapshot } from './types.js';

const READ_CONCURRENCY = 8;

interface Reach {
  manifestLists: Set<string>;
  manifests: Set<string>;
  dataFiles: Set<string>;
}

/** Reads manifest lists and manifests once each, however many snapshots share them. */
class ManifestCache {
  private readonly entries = new Map<string, Promise<ManifestEntry[]>>();
  constructor(private readonly io: FileIO) {}
  read(m: ManifestFile): Promise<ManifestEntry[]> {
    let p = this.entries.get(m.manifestPath);
    if (!p) {
      p = readManifestEntries(this.io, m);
      this.entries.set(m.manifestPath, p);
    }
    return p;
  }
}

async function reach(io: FileIO, cache: ManifestCache, snapshots: readonly Snapshot[], liveOnly: boolean): Promise<Reach> {
  const lists = await mapConcurrent(snapshots, READ_CONCURRENCY, (s) => readSnapshotManifests(io, s));
  const manifests = new Map<string, ManifestFile>();
  for (const list of lists) for (const m of list) if (!manifests.has(m.manifestPath)) manifests.set(m.manifestPath, m);
  const dataFiles = new Set<string>();
  const entries = await mapConcurrent([...manifests.values()], READ_CONCURRENCY, (m) => cache.read(m));
  for (const list of entries) for (const e of list) if (!liveOnly || e.status !== 2) dataFiles.add(e.dataFile.filePath);
  return { manifestLists: new Set(snapshots.map((s) => s['manifest-list'])), manifests: new Set(manifests.keys()), dataFiles };
}

/** The files only `expired` snapshots reference, given the snapshots that remain (`kept`): manifest lists, manifests and data files, sorted. */
export async function unreferencedAfterExpiry(io: FileIO, expired: readonly Snapshot[], kept: readonly Snapshot[]): Promise<string[]> {
  const cache = new ManifestCache(io);
  const keep = await reach(io, cache, kept, true);
  const gone = await reach(io, cache, expired, false);
  const out: string[] = [];
  for (const f of gone.manifestLists) if (!keep.manifestLists.has(f)) out.push(f);
  for (const f of gone.manifests) if (!keep.manifests.has(f)) out.push(f);
  for (const f of gone.dataFiles) if (!keep.dataFiles.has(f)) out.push(f);
  return out.sort();
}
