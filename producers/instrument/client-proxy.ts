import { Endpoint } from './endpoints';
import { instrumentCreate, Runtime } from './instrumented-call';

/** Which resources of a client to wrap: `create` of each leaf is instrumented as its endpoint. */
export interface ResourceTree {
  [name: string]: ResourceTree | Endpoint;
}

const isEndpoint = (node: ResourceTree | Endpoint): node is Endpoint => typeof (node as Endpoint).usage === 'function';
type Obj = Record<PropertyKey, unknown>;

/**
 * A Proxy over the client: the resources named in `tree` are Proxies too, everything else is the
 * client's own. Methods of a wrapped resource run with the Proxy as `this`, so the clients' helpers
 * (`parse`, `stream`, `runTools`), which call `this.create` or `this._client.<resource>.create`,
 * go through the instrumented `create` as well. The client's own methods run on the client itself,
 * since they use private fields.
 */
export function proxyClient<T extends object>(client: T, tree: ResourceTree, rt: Runtime, again: (client: T) => T): T {
  const cache = new Map<PropertyKey, unknown>();
  const proxy: T = new Proxy(client, {
    get(target, prop) {
      if (cache.has(prop)) return cache.get(prop);
      const value = Reflect.get(target, prop, target);
      let out: unknown = value;
      const node = typeof prop === 'string' && Object.prototype.hasOwnProperty.call(tree, prop) ? tree[prop] : undefined;
      if (prop === 'withOptions' && typeof value === 'function') out = (...args: unknown[]) => again(value.apply(target, args));
      else if (node && typeof value === 'object' && value !== null) out = proxyResource(value as Obj, node, rt, () => proxy);
      else if (typeof value === 'function') out = value.bind(target);
      else return value;
      cache.set(prop, out);
      return out;
    },
  });
  return proxy;
}

function proxyResource(resource: Obj, node: ResourceTree | Endpoint, rt: Runtime, client: () => object): Obj {
  const cache = new Map<PropertyKey, unknown>();
  return new Proxy(resource, {
    get(target, prop, receiver) {
      if (prop === '_client') return client();
      if (cache.has(prop)) return cache.get(prop);
      const value = Reflect.get(target, prop, receiver);
      let out: unknown;
      if (isEndpoint(node)) {
        if (prop !== 'create' || typeof value !== 'function') return value;
        out = instrumentCreate((body, options) => value.call(target, body, options), node, rt);
      } else {
        const child = typeof prop === 'string' && Object.prototype.hasOwnProperty.call(node, prop) ? node[prop] : undefined;
        if (!child || typeof value !== 'object' || value === null) return value;
        out = proxyResource(value as Obj, child, rt, client);
      }
      cache.set(prop, out);
      return out;
    },
  });
}
