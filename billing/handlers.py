"""The billing app's reactions to the layers below: signups and their stages make connection
charges, services starting, changing and ending drive subscriptions (in their transaction)."""
