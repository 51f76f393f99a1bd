//! Network analytics (see the analytics issue): placeholder until the engine lands.
