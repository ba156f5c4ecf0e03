import Type from 'typebox';
import { component } from './component.js';

/**
 * The engine's spec as the job stores it: openapi.yaml's hand-written `EngineSpec` (the request side,
 * from src/ml/spec.ts). Free-form here: the wire carries what was submitted.
 */
export const EngineSpecObject = component('EngineSpec', Type.Unsafe<Record<string, unknown>>({ type: 'object' }));
