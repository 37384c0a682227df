import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { addStaff, benchDatabase, createBenchOrganisation, graphql, intFromEnv, startBenchServer, token } from './support';
import type { RunningServer } from '../src/server';

/**
 * Notification fan-out: one message to a group of N team members (BENCH_NOTIFY_RECIPIENTS, 300
 * by default), timed from the send until the last email reaches a local SMTP server; against the
 * floor, the same number of emails handed at once to nodemailer (the same pool settings) for the
 * same SMTP server, in the same run. Also the SQL statements the worker spends per notice (fails above a fixed bound: an
 * N+1 in planning or delivery would grow it).
 */
const recipients = intFromEnv('BENCH_NOTIFY_RECIPIENTS', 300);
const MAX_STATEMENTS_PER_NOTICE = 8;

function smtpSink(): Promise<{ url: string; received: () => number; close(): Promise<void> }> {
  let count = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    disableReverseLookup: true,
    logger: false,
    onData(stream, _session, callback) {
      stream.on('data', () => undefined);
      stream.on('end', () => {
        count += 1;
        callback();
      });
    },
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`,
        received: () => count,
        close: () => new Promise<void>((done) => server.close(() => done())),
      }),
    ),
  );
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function countStatements(server: RunningServer): { stop(): number } {
  const knex = server.deps.orm.em.getConnection().getKnex();
  let count = 0;
  const listener = () => (count += 1);
  knex.on('query', listener);
  return {
    stop() {
      knex.removeListener('query', listener);
      return count;
    },
  };
}

async function main(): Promise<void> {
  const db = await benchDatabase();
  const sink = await smtpSink();
  const server = await startBenchServer(db.url, { SMTP_URL: sink.url, NOTIFICATION_WORKER: 'true', NOTIFICATION_POLL_MS: '20' });
  try {
    const org = await createBenchOrganisation(server.url);
    const externalId = `admin-${randomUUID()}`;
    const created = await graphql(server.url, org.service, 'mutation($i: TeamMemberUpsertInput!) { teamMemberUpsert(input: $i) { teamMember { id } } }', {
      i: { externalId, name: 'Bench Admin', email: `${externalId}@bench.example`, roles: ['Clinician'], permissions: ['MESSAGING_ADMIN', 'MESSAGING_MANAGEMENT'] },
    });
    const admin = { id: created.teamMemberUpsert.teamMember.id as string, token: await token({ role: 'staff', org: org.slug, sub: externalId }) };
    await graphql(server.url, admin.token, 'mutation($i: MessagingSettingsUpdateInput!) { messagingSettingsUpdate(input: $i) { userErrors { code } } }', { i: { staffNotificationDelayMinutes: 0 } });
    const staff: string[] = [];
    for (let i = 0; i < recipients; i++) staff.push((await addStaff(server.url, org, `Member ${i}`)).id);
    const group = await graphql(server.url, admin.token, 'mutation($i: GroupChannelCreateInput!) { groupChannelCreate(input: $i) { channel { id } userErrors { code message } } }', {
      i: { title: 'Bench group', teamMemberIds: staff.slice(0, 199), patientIds: [] },
    });
    const channelId = group.groupChannelCreate.channel.id as string;
    for (let start = 199; start < staff.length; start += 200) {
      await graphql(server.url, admin.token, 'mutation($i: ChannelMembersAddInput!) { channelMembersAdd(input: $i) { userErrors { code message } } }', {
        i: { channelId, teamMemberIds: staff.slice(start, start + 200), patientIds: [] },
      });
    }

    // The floor: the same number of emails handed at once to nodemailer with the server's pool settings.
    const direct = nodemailer.createTransport({ url: sink.url, pool: true, maxConnections: 4 });
    const directStarted = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: recipients }, (_, i) => direct.sendMail({ from: 'bench@localhost', to: `direct-${i}@bench.example`, subject: 'Unread messages', text: 'You have 1 unread message.' })),
    );
    const directMs = Number(process.hrtime.bigint() - directStarted) / 1e6;
    direct.close();

    const before = sink.received();
    const statements = countStatements(server);
    const started = process.hrtime.bigint();
    await graphql(server.url, admin.token, 'mutation($i: MessageSendInput!) { messageSend(input: $i) { message { id } } }', { i: { channelId, body: 'Group session moved to Thursday' } });
    await until(() => sink.received() - before >= recipients, 300_000);
    const oursMs = Number(process.hrtime.bigint() - started) / 1e6;
    const perNotice = statements.stop() / recipients;
    await new Promise((resolve) => setTimeout(resolve, 300));
    const extra = sink.received() - before - recipients;

    console.log(`notifications: one message to a group of ${recipients} team members, emailed to a local SMTP server`);
    console.log(`  send to last email:      ${oursMs.toFixed(0)} ms (${((recipients / oursMs) * 1000).toFixed(0)} emails/s)`);
    console.log(`  nodemailer direct floor: ${directMs.toFixed(0)} ms (${((recipients / directMs) * 1000).toFixed(0)} emails/s)`);
    console.log(`  ratio (throughput, ours / direct): ${(directMs / oursMs).toFixed(2)}`);
    console.log(`  SQL statements per notice (planning and delivery, the send included): ${perNotice.toFixed(2)}`);
    console.log(`  duplicate emails: ${extra}`);
    if (extra !== 0 || perNotice > MAX_STATEMENTS_PER_NOTICE) {
      console.error(`\nFAILED: ${extra !== 0 ? `${extra} duplicate emails` : `${perNotice.toFixed(2)} statements per notice (bound ${MAX_STATEMENTS_PER_NOTICE})`}`);
      process.exitCode = 1;
    }
  } finally {
    await server.close();
    await sink.close();
    await db.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
