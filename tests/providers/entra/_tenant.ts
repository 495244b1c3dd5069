/** The small tenant most Entra provider tests read. @module */

import type { GraphTenantInit } from "../../fakes/graph.ts";

// A small tenant: members with and without mail, an onmicrosoft.com mail, a disabled user, two
// guests (one without mail), a soft-deleted user, a contact and a device in a group, and two
// groups nesting each other (a cycle).
export const ID = {
  alice: "00000000-0000-4000-8000-00000000000a",
  bob: "00000000-0000-4000-8000-00000000000b",
  carol: "00000000-0000-4000-8000-00000000000c",
  dave: "00000000-0000-4000-8000-00000000000d",
  guestNoMail: "00000000-0000-4000-8000-0000000000e1",
  guestMail: "00000000-0000-4000-8000-0000000000e2",
  erin: "00000000-0000-4000-8000-0000000000e3",
  contact: "00000000-0000-4000-8000-0000000000c1",
  device: "00000000-0000-4000-8000-0000000000d1",
  eng: "00000000-0000-4000-8000-000000000e00",
  ops: "00000000-0000-4000-8000-000000000f00",
  empty: "00000000-0000-4000-8000-000000000a00",
  unit: "00000000-0000-4000-8000-00000000a0a0",
};

export const TENANT: GraphTenantInit = {
  users: [
    { id: ID.alice, userPrincipalName: "alice@contoso.com", mail: "Alice@Contoso.com" },
    { id: ID.bob, userPrincipalName: "bob@contoso.com", mail: null },
    {
      id: ID.carol,
      userPrincipalName: "carol@contoso.com",
      mail: "carol@contoso.onmicrosoft.com",
    },
    { id: ID.dave, userPrincipalName: "dave@contoso.com", accountEnabled: false },
    { id: ID.guestNoMail, userPrincipalName: "gina_example.org#EXT#@contoso.onmicrosoft.com" },
    {
      id: ID.guestMail,
      userPrincipalName: "gus_example.org#EXT#@contoso.onmicrosoft.com",
      mail: "gus@example.org",
    },
  ],
  deletedUsers: [{ id: ID.erin, userPrincipalName: "erin@contoso.com", mail: "erin@contoso.com" }],
  contacts: [{ id: ID.contact, displayName: "Supplier", mail: "sales@supplier.example" }],
  devices: [{ id: ID.device, displayName: "Laptop 7" }],
  groups: [
    {
      id: ID.eng,
      displayName: "Engineering",
      members: [ID.alice, ID.bob, ID.contact, ID.device, ID.ops, ID.guestNoMail],
    },
    { id: ID.ops, displayName: "Ops", members: [ID.carol, ID.eng] },
    { id: ID.empty, displayName: "Empty", members: [] },
  ],
  administrativeUnits: [{ id: ID.unit, displayName: "Europe", members: [ID.ops, ID.dave] }],
};
