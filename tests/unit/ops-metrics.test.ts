import { OpsServer } from '../../src/http/ops-server';
import { counter } from '../../src/metrics';

describe('/metrics', () => {
  it('renders only the metrics named with ?name= (or name[]=), and answers 400 for an unknown name', async () => {
    counter('test_ops_selected_total', 'A metric a narrow scrape asks for.').inc(3);
    counter('test_ops_other_total', 'A metric it does not.').inc();
    const ops = new OpsServer();
    const port = await ops.start(0, '127.0.0.1');
    try {
      const one = await (await fetch(`http://127.0.0.1:${port}/metrics?name=test_ops_selected_total`)).text();
      expect(one).toContain('test_ops_selected_total 3');
      expect(one).not.toContain('test_ops_other_total');
      const both = await (await fetch(`http://127.0.0.1:${port}/metrics?name[]=test_ops_selected_total&name[]=test_ops_other_total`)).text();
      expect(both).toContain('test_ops_other_total 1');
      expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toContain('test_ops_other_total 1');
      const unknown = await fetch(`http://127.0.0.1:${port}/metrics?name=no_such_metric`);
      expect(unknown.status).toBe(400);
      expect(((await unknown.json()) as { error: string }).error).toContain('no_such_metric');
    } finally {
      await ops.stop();
    }
  });
});
