import { randomUUID } from 'node:crypto';
import type { TestServer } from './server';
import { ok } from './client';
import { OrganisationCreateDocument, PatientUpsertDocument, TeamMemberUpsertDocument, type PatientUpsertInput, type Permission } from '../generated/graphql';

export interface Person {
  id: string;
  externalId: string;
  token: string;
}

export interface TestOrganisation {
  id: string;
  slug: string;
  serviceToken: string;
  addStaff(name: string, permissions?: Permission[], roles?: string[]): Promise<Person>;
  /** A patient with an email on file (messageable) unless `extra` says otherwise. */
  addPatient(name: string, extra?: Partial<Omit<PatientUpsertInput, 'externalId' | 'name'>>): Promise<Person>;
}

/** A fresh organisation of this test's own, created through the API (operator + service tokens). */
export async function createOrganisation(server: Pick<TestServer, 'url' | 'token'>): Promise<TestOrganisation> {
  const slug = `t-${randomUUID().slice(0, 18)}`;
  const operator = await server.token({ role: 'operator', sub: 'test-operator' });
  const created = await ok(server.url, operator, OrganisationCreateDocument, { input: { slug, name: `Test ${slug}` } });
  const organisation = created.organisationCreate.organisation!;
  const serviceToken = await server.token({ role: 'service', org: slug, sub: 'test-sync' });
  return {
    id: organisation.id,
    slug,
    serviceToken,
    async addStaff(name, permissions = [], roles = ['Clinician']) {
      const externalId = `staff-${randomUUID()}`;
      const result = await ok(server.url, serviceToken, TeamMemberUpsertDocument, {
        input: { externalId, name, email: `${externalId}@clinic.example`, roles, permissions },
      });
      const id = result.teamMemberUpsert.teamMember!.id;
      return { id, externalId, token: await server.token({ role: 'staff', org: slug, sub: externalId }) };
    },
    async addPatient(name, extra = {}) {
      const externalId = `patient-${randomUUID()}`;
      const result = await ok(server.url, serviceToken, PatientUpsertDocument, { input: { externalId, name, email: `${externalId}@patients.example`, ...extra } });
      if (result.patientUpsert.userErrors.length) throw new Error(JSON.stringify(result.patientUpsert.userErrors));
      const id = result.patientUpsert.patient!.id;
      return { id, externalId, token: await server.token({ role: 'patient', org: slug, sub: externalId }) };
    },
  };
}
