-- Observation's combo-* search parameters are unions of other parameters (combo-code is code and
-- component-code); since this version they are searched in their members' rows and no longer
-- indexed (kring_fhir::definitions, `union_of`). Their rows written before are never read again.
DELETE FROM search_index
 WHERE res_type = 'Observation'
   AND param IN ('combo-code', 'combo-data-absent-reason', 'combo-value-concept', 'combo-value-quantity');
