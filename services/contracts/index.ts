export * from './errors.ts';
export * from './subjects.ts';
export * from './envelope.ts';
export * from './schemas.ts';
export * from './warehouse.ts';
