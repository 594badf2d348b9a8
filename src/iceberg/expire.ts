// Which files snapshot expiry may delete: those reachable from the removed snapshots (their manifest
// lists, manifests, data files and delete files) that no kept snapshot still reaches. Data and delete
// files count as reached by a kept snapshot when they are live (ADDED or EXISTING) in it; a file a kept
// snapshot only records as DELETED is needed by none of them.
import type { FileIO } from './io.js';
import { ManifestCache, reachableFiles } from './reader.js';
import type { Snapshot } from './types.js';

/** The files only `expired` snapshots reference, given the snapshots that remain (`kept`): manifest lists, manifests, data and delete files, sorted. */
export async function unreferencedAfterExpiry(io: FileIO, expired: readonly Snapshot[], kept: readonly Snapshot[]): Promise<string[]> {
  const cache = new ManifestCache(io);
  const keep = await reachableFiles(io, kept, { cache });
  const gone = await reachableFiles(io, expired, { cache, liveDataFilesOnly: false });
  const out: string[] = [];
  for (const f of gone.manifestLists) if (!keep.manifestLists.has(f)) out.push(f);
  for (const f of gone.manifests) if (!keep.manifests.has(f)) out.push(f);
  for (const f of gone.dataFiles) if (!keep.dataFiles.has(f)) out.push(f);
  for (const f of gone.deleteFiles) if (!keep.deleteFiles.has(f)) out.push(f);
  return out.sort();
}
