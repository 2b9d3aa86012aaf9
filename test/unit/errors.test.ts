/**
 * The error catalogue and the spec agree: every code the service can produce is documented in
 * the spec's Problem schema, with its status among the documented responses, and the spec
 * documents no code the service cannot produce.
 */
import { expect } from 'chai';
import { problemCatalogue, ProblemError, problemTypePrefix, type ProblemCode } from '../../src/errors.js';
import { problemBody } from '../../src/http/problem.js';
import { readSpec } from '../../src/spec.js';

interface Spec {
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  components: { schemas: { Problem: { properties: { code: { enum: string[]; description: string } } } } };
}

describe('error catalogue', () => {
  const spec = readSpec() as unknown as Spec;
  const codes = Object.keys(problemCatalogue) as ProblemCode[];

  it('lists exactly the codes the spec documents', () => {
    expect([...spec.components.schemas.Problem.properties.code.enum].sort()).to.deep.equal([...codes].sort());
  });

  it('describes each code with its status in the spec', () => {
    const description = spec.components.schemas.Problem.properties.code.description;
    for (const code of codes) {
      expect(description, code).to.match(new RegExp(`\`${code}\`[^\\n]*\\(${problemCatalogue[code].status}\\)|\`${code}\` \\(${problemCatalogue[code].status}\\)`));
    }
  });

  it('has every non-404 error status documented as a response of some operation', () => {
    const documented = new Set<string>();
    for (const item of Object.values(spec.paths)) {
      for (const op of Object.values(item)) for (const status of Object.keys(op.responses ?? {})) documented.add(status);
    }
    for (const code of codes) {
      const status = String(problemCatalogue[code].status);
      // 404 is the answer for paths that are not in the spec, so no operation can document it.
      if (status !== '404') expect(documented, `${code} (${status})`).to.include(status);
    }
  });

  it('documents no error status that no code can produce', () => {
    const producible = new Set(codes.map((c) => String(problemCatalogue[c].status)));
    for (const [route, item] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(item)) {
        for (const status of Object.keys(op.responses ?? {})) {
          if (Number(status) >= 400) expect(producible, `${method.toUpperCase()} ${route} ${status}`).to.include(status);
        }
      }
    }
  });

  it('renders a problem with a type URI derived from the code', () => {
    const err = new ProblemError('image-undecodable', { detail: 'bad bytes' });
    expect(problemBody(err, '/upload')).to.deep.equal({
      type: `${problemTypePrefix}image-undecodable`,
      title: 'Image cannot be decoded',
      status: 422,
      detail: 'bad bytes',
      instance: '/upload',
      code: 'image-undecodable',
    });
  });
});
