// The deployments beyond one container: the Kubernetes manifests validated offline against the
// Kubernetes API schemas (kubernetes-models), and the compose file checked for what it promises.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { documentedVariables } from '../../src/config.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const K8S = join(ROOT, 'deploy/kubernetes');
const COMPOSE = join(ROOT, 'deploy/compose');

type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; [field: string]: unknown };
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

const manifests: Manifest[] = readdirSync(K8S)
  .filter((name) => name.endsWith('.yaml'))
  .flatMap((name) => parseAllDocuments(readFileSync(join(K8S, name), 'utf8')).map((doc) => doc.toJS() as Manifest));
const byKind = (kind: string) => manifests.find((m) => m.kind === kind) as any;
const validate = (manifest: Manifest) => {
  const Model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
  if (Model === undefined) throw new Error(`no schema for ${manifest.apiVersion} ${manifest.kind}`);
  new Model(manifest as never).validate();
};

describe('the Kubernetes manifests', () => {
  it('are each valid against the Kubernetes schema of their kind', () => {
    expect(manifests.map((m) => m.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Secret', 'Service']);
    for (const manifest of manifests) expect(() => validate(manifest), manifest.kind).not.toThrow();
  });

  it('the validation refuses a broken manifest (so the check above can fail)', () => {
    const broken = structuredClone(byKind('Deployment'));
    broken.spec.replicas = 'two';
    expect(() => validate(broken)).toThrow();
    const noSelector = structuredClone(byKind('Deployment'));
    delete noSelector.spec.selector;
    expect(() => validate(noSelector)).toThrow();
  });

  it('runs the gateway non-root on a read-only root filesystem, with resources and probes on /health/live and /health/ready', () => {
    const deployment = byKind('Deployment');
    const pod = deployment.spec.template.spec;
    const [container] = pod.containers;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(container.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container.resources.limits.memory).toBeDefined();
    expect(container.livenessProbe.httpGet).toMatchObject({ path: '/health/live', port: 'http' });
    expect(container.readinessProbe.httpGet).toMatchObject({ path: '/health/ready', port: 'http' });
    expect(container.ports).toContainEqual(expect.objectContaining({ name: 'http', containerPort: 7860 }));
    // Draining (SHUTDOWN_GRACE_MS) fits in the grace period.
    const config = byKind('ConfigMap').data;
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(Number(config.SHUTDOWN_GRACE_MS));
    expect(container.envFrom).toEqual([{ configMapRef: { name: byKind('ConfigMap').metadata.name } }, { secretRef: { name: byKind('Secret').metadata.name } }]);
  });

  it('points the Service, the autoscaler and the disruption budget at the Deployment\'s pods', () => {
    const deployment = byKind('Deployment');
    const labels = deployment.spec.template.metadata.labels;
    expect(deployment.spec.selector.matchLabels).toEqual(labels);
    expect(byKind('Service').spec.selector).toEqual(labels);
    expect(byKind('Service').spec.ports[0].targetPort).toBe('http');
    expect(byKind('PodDisruptionBudget').spec.selector.matchLabels).toEqual(labels);
    expect(byKind('HorizontalPodAutoscaler').spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
    expect(byKind('HorizontalPodAutoscaler').spec.minReplicas).toBeGreaterThanOrEqual(2);
  });

  it('sets only variables the gateway reads, secrets in the Secret and the rest in the ConfigMap', () => {
    const known = new Set(documentedVariables());
    const configKeys = Object.keys(byKind('ConfigMap').data);
    const secretKeys = Object.keys(byKind('Secret').stringData);
    for (const key of [...configKeys, ...secretKeys]) expect(known, key).toContain(key);
    for (const secret of ['API_KEYS', 'REDIS_URL', 'DATABASE_URL', 'METRICS_TOKEN']) {
      expect(secretKeys).toContain(secret);
      expect(configKeys).not.toContain(secret);
    }
  });
});

describe('the compose deployment', () => {
  const compose = parseYaml(readFileSync(join(COMPOSE, 'docker-compose.yml'), 'utf8')) as any;
  const services = compose.services as Record<string, any>;

  it('runs two gateway replicas behind a reverse proxy, with Redis, PostgreSQL, Prometheus and Grafana', () => {
    expect(Object.keys(services).sort()).toEqual(['gateway', 'grafana', 'postgres', 'prometheus', 'proxy', 'redis']);
    const gateway = services.gateway;
    expect(gateway.deploy.replicas).toBe(2);
    expect(gateway.build.context).toBe('../..');
    expect(existsSync(join(COMPOSE, gateway.build.context, 'Dockerfile'))).toBe(true);
    expect(gateway.environment.REDIS_URL).toBe('redis://redis:6379');
    expect(gateway.environment.DATABASE_URL).toMatch(/^postgres:\/\/.*@postgres:5432\//);
    expect(gateway.environment.TRUST_PROXY).toBe('1');
    expect(gateway.read_only).toBe(true);
    expect(gateway.healthcheck.test.join(' ')).toContain('/health/ready');
    expect(gateway.ports).toBeUndefined();
    // Every dependency is a service of the file; the gateway waits for healthy Redis and PostgreSQL.
    for (const [name, service] of Object.entries(services)) {
      const needs = Array.isArray(service.depends_on) ? service.depends_on : Object.keys(service.depends_on ?? {});
      for (const need of needs) expect(Object.keys(services), `${name} depends on ${need}`).toContain(need);
    }
    expect(gateway.depends_on).toEqual({ redis: { condition: 'service_healthy' }, postgres: { condition: 'service_healthy' } });
    expect(services.redis.healthcheck).toBeDefined();
    expect(services.postgres.healthcheck).toBeDefined();
  });

  it('takes secrets from an env file only, and every variable it sets is one the gateway reads', () => {
    const known = new Set(documentedVariables());
    const gateway = services.gateway;
    expect(gateway.env_file).toBe('.env');
    for (const key of Object.keys(gateway.environment)) expect(known, key).toContain(key);
    const example = readFileSync(join(COMPOSE, '.env.example'), 'utf8');
    for (const secret of ['API_KEYS', 'METRICS_TOKEN', 'POSTGRES_PASSWORD', 'GF_SECURITY_ADMIN_PASSWORD']) expect(example).toMatch(new RegExp(`^${secret}=$`, 'm'));
    // No secret written into the compose file itself: those variables come from the env file.
    for (const [name, service] of Object.entries(services)) {
      for (const key of Object.keys(service.environment ?? {})) expect(key, `${name}: ${key}`).not.toMatch(/PASSWORD|API_KEY|TOKEN/);
    }
    expect(gateway.environment.DATABASE_URL).toContain('${POSTGRES_PASSWORD:?');
  });

  it('mounts files that exist: the proxy\'s configuration, Prometheus\' with the alert rules, and Grafana\'s dashboard', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const volume of (service.volumes ?? []) as string[]) {
        const [source] = volume.split(':');
        if (source?.startsWith('.')) expect(existsSync(join(COMPOSE, source)), `${name}: ${source}`).toBe(true);
      }
    }
    const nginx = readFileSync(join(COMPOSE, 'nginx.conf'), 'utf8');
    expect(nginx).toMatch(/server gateway:7860;/);
    expect(nginx).toMatch(/listen 8080;/);
    expect(services.proxy.ports).toEqual(['8080:8080']);

    const prometheus = parseYaml(readFileSync(join(COMPOSE, 'prometheus.yml'), 'utf8')) as any;
    const [job] = prometheus.scrape_configs;
    expect(job.dns_sd_configs).toEqual([{ names: ['gateway'], type: 'A', port: 7860 }]);
    expect(job.authorization.credentials_file).toBe('/run/secrets/metrics_token');
    expect(services.prometheus.secrets).toContain('metrics_token');
    expect(prometheus.rule_files).toEqual(['alerts.yml']);
    expect(services.prometheus.volumes).toContain('../prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro');

    const providers = parseYaml(readFileSync(join(COMPOSE, 'grafana/dashboards.yml'), 'utf8')) as any;
    const dashboardMount = (services.grafana.volumes as string[]).find((v) => v.startsWith('../grafana/dashboard.json'))?.split(':')[1] ?? '';
    expect(dirname(dashboardMount)).toBe(providers.providers[0].options.path);
    const datasource = parseYaml(readFileSync(join(COMPOSE, 'grafana/datasource.yml'), 'utf8')) as any;
    expect(datasource.datasources[0]).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
  });
});
