import { describe, expect, it } from 'vitest';
import { documentCommandOrReportFailed, type DocumentEvents } from './document-events.ts';
import { makeEnvelope } from './envelope.ts';
import { COMMAND_PAYLOADS } from './schemas.ts';

/** Records what a handler reports instead of publishing it (the NATS side is tested with the services). */
function recordingEvents() {
  const failed: Array<{ orderId: string; code: string; message: string }> = [];
  const events: DocumentEvents = {
    issued: async () => {},
    ksef: async () => {},
    emailed: async () => {},
    correctionIssued: async () => {},
    correctionFailed: async () => {},
    correctionEmailed: async () => {},
    failed: async (_cause, orderId, code, message) => {
      failed.push({ orderId, code, message });
    },
  };
  const logged: string[] = [];
  return { failed, logged, deps: { events, logger: { error: (_f: Record<string, unknown>, m: string) => logged.push(m) } } };
}

describe('documentCommandOrReportFailed (shared by issue-document and send-document)', () => {
  it('an invalid command for an order → DOCUMENT_FAILED VALIDATION_FAILED to that order, null (ack)', async () => {
    const r = recordingEvents();
    const env = makeEnvelope({ type: 'send-document', orderId: 'ord_1', payload: { order: { orderId: 'ord_1' } } });
    const cmd = await documentCommandOrReportFailed(COMMAND_PAYLOADS.sendDocument, env, 'send-document command', r.deps);
    expect(cmd).toBeNull();
    expect(r.failed).toEqual([{ orderId: 'ord_1', code: 'VALIDATION_FAILED', message: expect.stringContaining('send-document command is invalid') }]);
    expect(r.logged).toEqual(['invalid send-document command']);
  });

  it('an invalid command without an order id throws (dead-lettered: no one to report to)', async () => {
    const r = recordingEvents();
    const env = makeEnvelope({ type: 'issue-document', orderId: null, payload: {} });
    await expect(documentCommandOrReportFailed(COMMAND_PAYLOADS.issueDocument, env, 'issue-document command', r.deps)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(r.failed).toEqual([]);
  });
});
