//! Pathfinding (see the pathfinding issue): placeholder until the engine lands.
