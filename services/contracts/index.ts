export * from './errors.ts';
export * from './subjects.ts';
export * from './envelope.ts';
export * from './schemas.ts';
export * from './warehouse.ts';
export * from './money.ts';
export * from './document-events.ts';
export * from './nip.ts';
