import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import { loginAccount, signupAccount, type LoginProject, type SignupResult } from '../services/accounts.js';
import { createProject, deleteProject, listProjects, type ProjectView } from '../services/projects.js';

// tenantsdb accounts and their projects. Signup and login are open to anonymous callers; everything
// else acts on the caller's own account, decided in the services from the principal.

const SignupResultRef = builder.objectRef<SignupResult>('AccountSignupResult').implement({
  fields: (t) => ({
    projectId: t.exposeID('projectId'),
    apiKey: t.exposeString('apiKey', { description: 'The full key: shown this once, stored only as a hash' }),
  }),
});

const LoginProjectRef = builder.objectRef<LoginProject>('AccountLoginProject').implement({
  fields: (t) => ({
    projectId: t.exposeID('projectId'),
    name: t.exposeString('name'),
    apiKey: t.exposeString('apiKey', { description: 'A fresh "login session" key for this project, shown once' }),
    expiresAt: t.field({ type: 'DateTime', resolve: (p) => p.expiresAt }),
  }),
});

export const ProjectRef = builder.objectRef<ProjectView>('Project').implement({
  description: 'A tenantsdb project: a customer account of the platform, owning API keys.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    apiKeyCount: t.exposeInt('apiKeyCount', { description: 'Keys that authenticate now (not deleted, not expired)' }),
    createdAt: t.field({ type: 'DateTime', resolve: (p) => p.createdAt }),
  }),
});

const CreatedProjectRef = builder
  .objectRef<{ project: ProjectView; apiKey: string }>('CreatedProject')
  .implement({
    fields: (t) => ({
      project: t.field({ type: ProjectRef, resolve: (r) => r.project }),
      apiKey: t.exposeString('apiKey', { description: 'The project\'s first key ("Default"), shown this once' }),
    }),
  });

const SignupAccountInput = builder.inputType('SignupAccountInput', {
  fields: (t) => ({
    email: t.string({ required: true }),
    password: t.string({ required: true }),
    projectName: t.string({ required: true }),
  }),
});

const LoginAccountInput = builder.inputType('LoginAccountInput', {
  fields: (t) => ({
    email: t.string({ required: true }),
    password: t.string({ required: true }),
  }),
});

builder.mutationField('signupAccount', (t) =>
  t.field({
    type: SignupResultRef,
    description: 'Creates a tenantsdb account, its first project and that project\'s first API key.',
    args: { input: t.arg({ type: SignupAccountInput, required: true }) },
    resolve: (_root, { input }, ctx) => signupAccount({ deps: ctx.deps, input }),
  }),
);

builder.mutationField('loginAccount', (t) =>
  t.field({
    type: [LoginProjectRef],
    description:
      'Signs a tenantsdb account in: every project, each with a fresh login-session API key valid for 24 hours.',
    args: { input: t.arg({ type: LoginAccountInput, required: true }) },
    resolve: (_root, { input }, ctx) => loginAccount({ deps: ctx.deps, input, client: ctx.client, logger: ctx.logger }),
  }),
);

builder.queryField('projects', (t) =>
  t.field({
    type: [ProjectRef],
    description: "The caller's account's projects.",
    resolve: (_root, _args, ctx) => listProjects({ deps: ctx.deps, principal: requirePrincipal(ctx.principal) }),
  }),
);

builder.mutationField('createProject', (t) =>
  t.field({
    type: CreatedProjectRef,
    description: 'A new project of the caller\'s account, with a first key. Needs a key with every project scope.',
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, { name }, ctx) =>
      createProject({ deps: ctx.deps, principal: requirePrincipal(ctx.principal), input: { name } }),
  }),
);

builder.mutationField('deleteProject', (t) =>
  t.field({
    type: ProjectRef,
    description: 'Soft-deletes a project of the caller\'s account and revokes its keys.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) =>
      deleteProject({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: { id: String(id) },
        logger: ctx.logger,
      }),
  }),
);
