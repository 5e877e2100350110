"""Privacy workbench: know and prove what personal data a small Dutch business holds, where,
for whom and why, and answer GDPR requests with complete, correct packages."""

__version__ = "0.1.0"
