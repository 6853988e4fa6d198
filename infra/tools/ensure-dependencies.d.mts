/** Types of ensure-dependencies.mjs (plain JavaScript so it runs before anything is installed). */
interface LockEntry {
  version?: string;
  optional?: boolean;
  link?: boolean;
  resolved?: string;
}
export declare function staleReason(wanted: { packages?: Record<string, LockEntry> }, installed: { packages?: Record<string, LockEntry> } | null): string | null;
export declare function nodeSatisfies(floor: string, version: string): boolean;
