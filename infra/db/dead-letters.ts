import type { Sql } from './postgres.ts';

export interface DeadLetter {
  consumer: string;
  stream: string | null;
  subject: string;
  messageId: string | null;
  orderId: string | null;
  data: string;
  errorCode: string;
  errorMessage: string;
  deliveries: number;
}

/** Records a message a consumer gave up on, for admins to see and replay. */
export async function recordDeadLetter(sql: Sql, d: DeadLetter): Promise<void> {
  await sql`insert into dead_letters
    (consumer, stream, subject, message_id, order_id, data, error_code, error_message, deliveries)
    values (${d.consumer}, ${d.stream}, ${d.subject}, ${d.messageId}, ${d.orderId}, ${d.data},
            ${d.errorCode}, ${d.errorMessage.slice(0, 4000)}, ${d.deliveries})`;
}
