import fs from 'node:fs';
import path from 'node:path';
import { printContractSchema } from '../graphql/schema';

const target = path.resolve(__dirname, '../../../schema.graphql');
fs.writeFileSync(target, printContractSchema());
process.stdout.write(`wrote ${target}\n`);
