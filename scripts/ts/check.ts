// A storefront's order flow and an admin's plan set-up, typed from the spec.
// scripts/tscheck.sh generates ./api.d.ts with openapi-typescript and
// compiles this file with tsc --strict; it is not run. A spec change that
// would break a TypeScript integrator breaks this file first.
import type { components, paths } from "./api";

type Schemas = components["schemas"];

export type Offer = paths["/v1/storefront/offers/{token}"]["get"]["responses"][200]["content"]["application/json"];
export type OrderRequest = NonNullable<paths["/v1/storefront/orders"]["post"]["requestBody"]>["content"]["application/json"];
export type PlacedOrder = paths["/v1/storefront/orders"]["post"]["responses"][202]["content"]["application/json"];
export type OrderStatusRead = paths["/v1/storefront/orders/{id}"]["get"]["responses"][200]["content"]["application/json"];
export type Problem = Schemas["Problem"];

// Keys a request may leave out.
type OptionalKeys<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? K : never }[keyof T];
type Assert<T extends true> = T;

// Fields with a default are optional in requests: the server fills them.
export type DefaultsAreOptional = Assert<
  "partner_visible" extends OptionalKeys<Schemas["PlanCreate"]>
    ? "enable_quantity" extends OptionalKeys<Schemas["PlanPricing"]>
      ? "free_trial" extends OptionalKeys<Schemas["ModuleSettingsInput"]>
        ? true
        : false
      : false
    : false
>;
// And what the spec requires stays required.
export type RequiredStaysRequired = Assert<
  "token" extends OptionalKeys<OrderRequest> ? false : "username" extends OptionalKeys<OrderRequest> ? false : true
>;

export const plan: Schemas["PlanCreate"] = {
  venture_id: "9a3e1c55-7d2b-4e8f-a1b0-3c4d5e6f7a8b",
  product_type_id: "9a3e1c55-7d2b-4e8f-a1b0-3c4d5e6f7a8c",
  product_id: "9a3e1c55-7d2b-4e8f-a1b0-3c4d5e6f7a8d",
  product_group_id: "9a3e1c55-7d2b-4e8f-a1b0-3c4d5e6f7a8e",
  name: "Backup 100 GB",
};

export const pricing: Schemas["PlanPricing"] = {
  billing_model: "prepaid",
  cycles: [{ frequency: "monthly", price: { amount: "10.00", currency: "USD" } }],
};

class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(`${problem.status} ${problem.code}: ${problem.title}`);
  }
}

async function call<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  const body: unknown = await res.json();
  if (!res.ok) {
    throw new ApiError(body as Problem);
  }
  return body as T;
}

// order reads an offer, places an anonymous order, polls its status and
// returns what to tell the buyer.
export async function order(base: string, token: string, username: string): Promise<string> {
  const offer = await call<Offer>(`${base}/v1/storefront/offers/${encodeURIComponent(token)}`);
  const body: OrderRequest = {
    token: offer.token,
    username,
    customer: { name: "Contoso Ltd", email: "it@contoso.example", country: "GB" },
  };
  if (offer.enable_quantity) {
    body.quantity = 2;
  }
  const placed = await call<PlacedOrder>(`${base}/v1/storefront/orders`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID() },
    body: JSON.stringify(body),
  });
  const statusToken = placed.status_token;
  if (statusToken === undefined) {
    throw new Error("an anonymous order answers with its status token");
  }
  const price: Schemas["Money"] = placed.unit_price;
  let read: OrderStatusRead = placed;
  const done: ReadonlyArray<Schemas["OrderStatus"]> = ["completed", "failed", "cancelled"];
  while (!done.includes(read.status)) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    read = await call<OrderStatusRead>(
      `${base}/v1/storefront/orders/${read.id}?token=${encodeURIComponent(statusToken)}`,
    );
  }
  if (read.status !== "completed") {
    return `order ${read.id} ${read.status}: ${read.failure_reason ?? "no reason given"}`;
  }
  const login = read.login;
  const password = read.password === undefined ? "" : ` Password: ${read.password}`;
  if (login === undefined) {
    return `order ${read.id} completed at ${price.amount} ${price.currency} per unit.${password}`;
  }
  return `${login.instructions} (${login.portal_url}, login ${login.username}).${password}`;
}
