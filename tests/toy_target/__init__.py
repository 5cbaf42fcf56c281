"""A toy target (torch.export programs saved as ``.pt2``) that shows what adding a target takes:
one converter module, one runtime module, its recipe files and one registry line."""
