/** The edge's rendered deployment files. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';

import { CONFIGS } from '../lib/config';
import { hostedDeployArgs, runtimeConfigToml, SECRET_VARIABLES, spinApp, VARIABLES_SECRET } from '../lib/spin';

const OUTPUTS = {
  Region: 'eu-west-1',
  KvTableName: 'Dreamreel-prod-EdgeKv-1',
  BucketName: 'dreamreel-prod-objects-1',
  S3Endpoint: 'https://s3.eu-west-1.amazonaws.com',
};

describe('spin', () => {
  it("puts the default store on the stack's table with Spin's aws_dynamo provider", () => {
    const toml = runtimeConfigToml(OUTPUTS);
    assert.match(toml, /^\[key_value_store\.default\]$/m);
    assert.match(toml, /^type = "aws_dynamo"$/m);
    assert.match(toml, /^table = "Dreamreel-prod-EdgeKv-1"$/m);
    assert.match(toml, /^region = "eu-west-1"$/m);
    assert.match(toml, /^consistent_read = true$/m);
    assert.doesNotMatch(toml, /access_key|secret_key/);
  });

  it('takes every secret variable from the Kubernetes Secret, never inline', () => {
    const app: any = spinApp(CONFIGS.prod, OUTPUTS, 'registry.example/dreamreel:1');
    const vars: any[] = app.spec.variables;
    for (const name of SECRET_VARIABLES) {
      const v = vars.find((x) => x.name === name);
      assert.deepEqual(v, { name, valueFrom: { secretKeyRef: { name: VARIABLES_SECRET, key: name } } });
    }
    assert.equal(vars.find((x) => x.name === 's3_bucket').value, OUTPUTS.BucketName);
    assert.equal(app.metadata.namespace, 'dreamreel-prod');
    assert.ok(!hostedDeployArgs(OUTPUTS).includes('secret'));
  });
});
