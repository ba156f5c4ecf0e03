import { defineConfig } from 'prisma/config';

// The CLI reads the same variable as the server; the default matches the server's own default.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/distill' },
});
