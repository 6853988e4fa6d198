/** The mailer's entry point: how to start it (it owns `mail_deliveries`; nobody else reads them yet). */
export { startMailerService, type MailerServiceOptions } from './main.ts';
