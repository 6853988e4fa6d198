/** Reading console form posts and query strings (urlencoded: a field may come once, many times or not at all). */
export type Form = Record<string, string | string[] | undefined>;

/** The first value of a field, trimmed ('' when absent). */
export const one = (v: string | string[] | undefined): string => (Array.isArray(v) ? (v[0] ?? '') : (v ?? '')).trim();

/** Every value of a field (checkbox lists). */
export const many = (v: string | string[] | undefined): string[] => (Array.isArray(v) ? v : v === undefined || v === '' ? [] : [v]);

/** Only local console paths are followed after sign-in / actions (no open redirect). */
export const localPath = (p: string, fallback = '/admin'): string => (/^\/admin(\/[\w\-./?=&%~]*)?$/.test(p) && !p.startsWith('//') ? p : fallback);
