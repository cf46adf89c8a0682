// Every word the app shows in Spanish (the default; English is in i18n-en.js, loaded
// when chosen), and the language in use (kept in localStorage `renhice.lang`). Codes
// from the registry are put in words through the tables at the end; the registry's own
// messages are shown as it says them.

const LANG_KEY = 'renhice.lang';

const es = {
  'brand.full': 'Registro Nacional de Historias Clínicas Electrónicas',
  skip: 'Saltar al contenido',
  'nav.label': 'Secciones',
  'nav.search': 'Buscar paciente',
  'nav.records': 'Mis registros',
  'nav.access': 'Quién vio mis registros',
  'nav.consents': 'Mis consentimientos',
  'nav.audit': 'Registro de auditoría',
  'nav.accreditation': 'Acreditación',
  'nav.admin': 'Administración',
  'action.signOut': 'Cerrar sesión',
  'action.cancel': 'Cancelar',
  'action.search': 'Buscar',
  'action.show': 'Mostrar',
  'footer.zone': 'Todas las fechas y horas se muestran en hora de Lima (UTC−5).',
  'footer.law': 'RENHICE — Ley 30024. El registro indica dónde están las historias clínicas; no guarda los documentos.',
  'status.loading': 'Cargando…',
  'status.searching': 'Buscando…',
  'value.unknown': 'No consta',
  'value.noName': 'Sin nombre registrado',
  'value.noDocument': 'Sin documento registrado',
  'value.unnamedIpress': 'IPRESS sin nombre registrado',
  'ipress.code': 'IPRESS {code}',
  range: 'del {from} al {to}',
  'age.one': '{n} año',
  'age.other': '{n} años',
  'count.documents.one': '{n} documento',
  'count.documents.other': '{n} documentos',
  'count.patients.one': 'Se encontró 1 paciente.',
  'count.patients.other': 'Se encontraron {n} pacientes.',
  'count.ipress.one': 'Registros en 1 IPRESS.',
  'count.ipress.other': 'Registros en {n} IPRESS.',
  'count.events.one': 'Se muestra 1 evento.',
  'count.events.other': 'Se muestran {n} eventos.',
  'count.hiddenOwn.one': '1 consulta suya no se muestra.',
  'count.hiddenOwn.other': '{n} consultas suyas no se muestran.',
  'count.consents.one': '1 consentimiento vigente.',
  'count.consents.other': '{n} consentimientos vigentes.',
  'count.ipressMatches.one': 'Se encontró 1 IPRESS.',
  'count.ipressMatches.other': 'Se encontraron {n} IPRESS.',
  'count.ipressRegistered.one': '1 IPRESS registrada.',
  'count.ipressRegistered.other': '{n} IPRESS registradas.',
  'count.clients.one': '1 sistema registrado.',
  'count.clients.other': '{n} sistemas registrados.',
  'count.tests.one': '{n} prueba',
  'count.tests.other': '{n} pruebas',
  'count.runs.one': '1 ejecución.',
  'count.runs.other': '{n} ejecuciones.',
  'page.notFound': 'Página no encontrada',
  'page.goHome': 'Ir al inicio',

  'home.title': 'Registro Nacional de Historias Clínicas Electrónicas',
  'home.purpose':
    'El registro nacional indica en qué IPRESS (hospitales, clínicas y centros de salud) están las historias clínicas de cada paciente, para que su atención continúe con su consentimiento o, en una emergencia, con un acceso que queda registrado.',
  'home.signIn': 'Ingresar',
  'home.professional': 'Profesional de salud / auditoría',
  'home.professionalWho': 'Médicos y demás profesionales de una IPRESS, auditores y administradores del registro.',
  'home.patient': 'Paciente',
  'home.patientWho': 'Vea dónde están sus registros, quién los consultó y a quién dio su consentimiento.',
  'home.redirecting': 'Dirigiéndolo al inicio de sesión…',
  'home.aboutTitle': 'Cómo funciona',
  'home.fact1': 'Cada IPRESS guarda sus historias clínicas en su propio sistema; el registro solo sabe dónde están.',
  'home.fact2': 'Un profesional ve lo que su IPRESS registró; lo de otras IPRESS, solo con el consentimiento del paciente o en una emergencia.',
  'home.fact3': 'Cada consulta queda registrada, y el paciente puede ver quién vio sus registros.',

  'auth.discoveryFailed': 'No se pudo contactar al servicio de inicio de sesión del registro.',
  'auth.noAuthorizationEndpoint': 'El registro todavía no ofrece el inicio de sesión para personas.',
  'auth.denied': 'El inicio de sesión no se completó.',
  'auth.failed': 'El inicio de sesión falló.',
  'auth.serverSaid': 'El registro indicó:',
  'auth.stateMismatch': 'La respuesta del inicio de sesión no corresponde a esta pestaña (estado distinto). Vuelva a ingresar.',
  'auth.tokenRefused': 'El registro no entregó las credenciales.',
  'auth.unknownRole': 'El registro no indicó un perfil que esta aplicación conozca.',
  'session.expired': 'Su sesión terminó. Vuelva a ingresar.',
  'session.rejected': 'El registro ya no acepta su sesión. Vuelva a ingresar.',
  'session.none': 'No ha iniciado sesión.',
  'session.signedOut': 'Cerró su sesión.',
  'error.network': 'No se pudo conectar con el registro. Revise su conexión e intente de nuevo.',
  'error.tooMany': 'Demasiadas solicitudes seguidas. Espere {s} segundos e intente de nuevo.',
  'error.forbidden': 'El registro no permite esta acción.',
  'error.notFound': 'No encontrado.',
  'error.status': 'El registro respondió con un error ({status}).',

  'search.title': 'Buscar paciente',
  'search.lead': 'Busque por documento de identidad para ir directamente al paciente, o por apellido y fecha de nacimiento.',
  'search.byDocument': 'Por documento de identidad',
  'search.docType': 'Tipo de documento',
  'search.docNumber': 'Número',
  'search.docNumberHint': 'DNI: 8 dígitos.',
  'search.dniInvalid': 'El DNI tiene 8 dígitos.',
  'search.docInvalid': 'Escriba el número del documento (letras y números).',
  'search.byName': 'Por nombre y fecha de nacimiento',
  'search.family': 'Apellido',
  'search.familyHint': 'Cualquiera de los dos apellidos; no importan tildes ni mayúsculas.',
  'search.familyRequired': 'Escriba al menos 2 letras del apellido.',
  'search.given': 'Nombre (opcional)',
  'search.birthdate': 'Fecha de nacimiento (opcional)',
  'search.submit': 'Buscar',
  'search.results': 'Resultados',
  'search.none': 'No se encontró ningún paciente.',
  'search.more': 'Hay más pacientes con estos datos: precise la búsqueda con el nombre o la fecha de nacimiento.',

  'patient.title': 'Paciente',
  'patient.loadingTitle': 'Cargando paciente…',
  'patient.unavailable': 'No se pudo mostrar el paciente',
  'patient.back': 'Volver a la búsqueda',
  'patient.name': 'Nombre',
  'patient.document': 'Documento',
  'patient.birth': 'Nacimiento',
  'patient.sex': 'Sexo',
  'patient.where': 'Dónde está su historia clínica',
  'patient.summary': 'Información clínica básica',
  'patient.documents': 'Documentos en el índice',
  'patient.notRegistered': 'El registro no tiene una historia a su nombre.',

  'access.emergency':
    'Acceso de emergencia: se muestran las IPRESS y el resumen de todas, sin los registros que otras IPRESS marcaron como sensibles. Este acceso queda registrado y el paciente lo verá.',
  'access.consent': 'El paciente dio su consentimiento: se muestran también los registros de otras IPRESS.',
  'access.consentUntil': 'El paciente dio su consentimiento hasta el {date}: se muestran también los registros de otras IPRESS.',
  'access.withheld':
    'Existen registros en otras IPRESS. Para verlos necesita el consentimiento del paciente o, en una emergencia, el acceso de emergencia.',
  'access.ownOnly':
    'Solo se muestran los registros de su IPRESS. Si el paciente tiene registros en otras IPRESS, para verlos necesita su consentimiento o, en una emergencia, el acceso de emergencia.',

  'locations.none': 'El registro no tiene documentos de este paciente que usted pueda ver.',
  'locations.yourIpress': 'Su IPRESS',
  'locations.renipress': 'Código RENIPRESS',
  'locations.documents': 'Documentos',
  'locations.period': 'Periodo',
  'locations.date': 'Fecha',
  'locations.types': 'Tipos de documento',
  'locations.endpoints': 'Sistema de la IPRESS',

  'summary.writtenBy': 'Resumen escrito por',
  'summary.unknownIpress': 'una IPRESS',
  'summary.allergies': 'Alergias',
  'summary.conditions': 'Problemas y diagnósticos',
  'summary.medications': 'Medicación',
  'summary.other': 'Otros datos',
  'summary.no.allergies': 'El resumen no registra alergias.',
  'summary.no.conditions': 'El resumen no registra problemas ni diagnósticos.',
  'summary.no.medications': 'El resumen no registra medicación.',
  'summary.no.other': 'Sin otros datos.',
  'summary.unnamed': 'Sin descripción',
  'summary.criticality': 'gravedad {c}',
  'summary.none': 'Sin resumen de información clínica básica.',

  'documents.none': 'No hay documentos que usted pueda ver.',
  'documents.date': 'Fecha',
  'documents.type': 'Tipo',
  'documents.ipress': 'IPRESS',
  'documents.sensitive': 'Sensible',
  'documents.more': 'Se muestran los 50 más recientes.',
  'documents.emergencyOwnOnly': 'Aun en emergencia, la lista de documentos incluye solo los de su IPRESS; dónde están los demás se ve arriba.',

  'emergency.open': 'Acceso de emergencia…',
  'emergency.title': 'Acceso de emergencia',
  'emergency.intro': 'Úselo solo si la atención del paciente no puede esperar su consentimiento.',
  'emergency.limit1': 'Verá la información básica de este paciente (solo de él): en qué IPRESS están sus registros y el resumen clínico.',
  'emergency.limit2': 'Los registros que una IPRESS marcó como sensibles no se muestran.',
  'emergency.limit3': 'El acceso queda registrado con su nombre y su motivo, y el paciente lo verá.',
  'emergency.limit4': 'Dura como máximo una hora; puede terminarlo antes.',
  'emergency.reasonLabel': 'Motivo (obligatorio)',
  'emergency.reasonHint': 'Describa la emergencia en al menos 10 caracteres. El paciente leerá este motivo.',
  'emergency.reasonShort': 'Escriba el motivo (al menos 10 caracteres).',
  'emergency.confirm': 'Activar acceso de emergencia',
  'emergency.requesting': 'Solicitando el acceso de emergencia…',
  'emergency.started': 'Acceso de emergencia activo.',
  'emergency.active': 'Acceso de emergencia activo',
  'emergency.reasonIs': 'motivo',
  'emergency.endsAt': 'termina a las {time}',
  'emergency.end': 'Terminar ahora',
  'emergency.expired': 'El acceso de emergencia terminó.',
  'emergency.needsRefresh': 'Su sesión no permite pedir un acceso de emergencia. Vuelva a ingresar.',
  'emergency.notGranted': 'El registro no concedió el acceso de emergencia.',

  'mine.title': 'Dónde están mis registros',
  'mine.lead': 'Las IPRESS que tienen documentos de su historia clínica, y su información clínica básica.',
  'mine.summary': 'Mi información clínica básica',

  'access.title': 'Quién vio mis registros',
  'access.lead': 'Cada vez que alguien consulta o registra algo de su historia, el registro lo anota. Los accesos de emergencia se destacan con su motivo.',
  'access.period': 'Periodo',
  'access.includeOwn': 'Incluir mis propias consultas',
  'access.results': 'Accesos a mis registros',

  'consent.title': 'Mis consentimientos',
  'consent.lead':
    'Sin su consentimiento, cada IPRESS ve solo lo que ella misma registró de usted. Aquí puede permitir que una IPRESS o un profesional vea sus registros de otras IPRESS, y retirar ese permiso cuando quiera.',
  'consent.current': 'Vigentes',
  'consent.past': 'Anteriores (retirados o vencidos)',
  'consent.new': 'Dar un consentimiento',
  'consent.noneCurrent': 'No tiene consentimientos vigentes.',
  'consent.nonePast': 'No hay consentimientos anteriores.',
  'consent.state.active': 'Vigente',
  'consent.state.expired': 'Vencido',
  'consent.period': 'Vigencia',
  'consent.since': 'desde el {date}, sin fecha de fin',
  'consent.always': 'sin fechas',
  'consent.purpose': 'Para',
  'consent.anyPurpose': 'cualquier fin',
  'consent.sensitive': 'Registros sensibles',
  'consent.sensitiveYes': 'incluidos',
  'consent.sensitiveNo': 'no incluidos',
  'consent.recorded': 'Registrado',
  'consent.recordedBy': 'Registrado por',
  'consent.clinician': '{college}, colegiatura {number}',
  'consent.revoke': 'Retirar consentimiento',
  'consent.revokeTitle': 'Retirar consentimiento',
  'consent.revokeQuestion': '¿Retirar el consentimiento dado a {who}? Dejará de ver sus registros de otras IPRESS desde ahora.',
  'consent.revoking': 'Retirando…',
  'consent.revoked': 'Consentimiento retirado.',
  'consent.whom': '¿A quién?',
  'consent.toIpress': 'A una IPRESS (hospital, clínica o centro de salud)',
  'consent.toClinician': 'A un profesional de salud',
  'consent.ipressSearch': 'Nombre de la IPRESS o código RENIPRESS',
  'consent.ipressSearchHint':
    'Escriba parte del nombre (por ejemplo, «regional de ica») y elija su IPRESS en la lista. Si tiene el código RENIPRESS de 8 dígitos, puede escribirlo en su lugar.',
  'consent.ipressTooShort': 'Escriba al menos 3 letras del nombre.',
  'consent.renipressInvalid': 'El código RENIPRESS tiene 8 dígitos.',
  'consent.ipressPick': 'Elija la IPRESS',
  'consent.ipressCode': 'Código RENIPRESS {code}',
  'consent.ipressAlias': 'También: {names}',
  'consent.ipressMore': 'Se muestran las {n} primeras; hay más. Escriba más del nombre para precisar.',
  'consent.ipressNone': 'Ninguna IPRESS coincide con «{text}».',
  'consent.ipressNoneHint': 'Revise cómo lo escribió o pruebe con otra palabra del nombre. Si tiene el código RENIPRESS, escríbalo.',
  'consent.ipressUnknown': 'El registro no tiene una IPRESS con ese código.',
  'consent.ipressUnknownHint': 'Revise el código o busque la IPRESS por su nombre.',
  'consent.ipressRequired': 'Busque la IPRESS por su nombre o escriba su código RENIPRESS.',
  'consent.ipressChoose': 'Elija una IPRESS de la lista.',
  'consent.college': 'Colegio profesional',
  'consent.colegiatura': 'Número de colegiatura',
  'consent.colegiaturaHint': 'Por ejemplo, el número CMP de un médico.',
  'consent.colegiaturaInvalid': 'Escriba el número de colegiatura (hasta 10 letras o números).',
  'consent.howLong': '¿Por cuánto tiempo?',
  'consent.start': 'Desde',
  'consent.end': 'Hasta',
  'consent.endBeforeStart': 'La fecha final debe ser igual o posterior a la inicial.',
  'consent.what': '¿Para qué?',
  'consent.purposeRequired': 'Elija al menos un fin.',
  'consent.includeSensitive': 'Incluir también los registros sensibles',
  'consent.sensitiveHint': 'Registros que una IPRESS marcó como sensibles (por ejemplo, salud mental). Si no marca esta casilla, no se mostrarán.',
  'consent.grant': 'Dar consentimiento',
  'consent.saving': 'Registrando el consentimiento…',
  'consent.saved': 'Consentimiento registrado.',
  'purpose.TREAT.long': 'Su atención de salud',
  'purpose.ETREAT.long': 'Atenciones de emergencia',

  'audit.more': 'Cargar más eventos',
  'audit.moreAvailable': 'Hay más eventos anteriores.',
  'audit.none': 'No hay eventos en este periodo.',
  'audit.emergency': 'Emergencia',
  'audit.why': 'Motivo',
  'audit.reason': 'motivo declarado',
  'audit.patient': 'Paciente',
  'audit.outcome.ok': 'Permitido',
  'audit.outcome.refused': 'Rechazado',
  'audit.outcome.failed': 'Falló en el registro',
  'audit.who.colegiatura': 'Profesional con colegiatura {key}',
  'audit.who.unauthenticated': 'Alguien sin credenciales válidas',
  'audit.who.system': 'Sistema de la IPRESS',
  'audit.what.locations': 'consultó dónde están los registros',
  'audit.what.summary': 'consultó el resumen clínico',
  'audit.what.operation': 'consultó dónde están los registros o el resumen clínico',
  'audit.what.login': 'ingresó al registro',
  'audit.what.loginFailed': 'intentó ingresar al registro',
  'audit.what.logout': 'cerró su sesión',
  'audit.what.emergencyOpened': 'abrió un acceso de emergencia',
  'audit.interaction.other': 'actuó sobre',
  'audit.object.unknown': 'el registro',
  'audit.tech.title': 'Detalles técnicos',
  'audit.tech.id': 'Evento',
  'audit.tech.request': 'Id de la solicitud',
  'audit.tech.subject': 'Sujeto del token',
  'audit.tech.address': 'Dirección de red',
  'audit.tech.type': 'Tipo',
  'audit.tech.description': 'Descripción del registro',
  'audit.tech.entities': 'Recursos',

  'auditor.title': 'Registro de auditoría',
  'auditor.lead': 'Cada solicitud al registro, permitida o rechazada, queda anotada. Los accesos de emergencia se destacan.',
  'auditor.filters': 'Filtros',
  'auditor.patient': 'Paciente (id en el registro)',
  'auditor.patientHint': 'El id que aparece en los eventos; vacío: todos.',
  'auditor.from': 'Desde',
  'auditor.to': 'Hasta',
  'auditor.ipress': 'IPRESS (código RENIPRESS)',
  'auditor.user': 'Usuario',
  'auditor.action': 'Acción',
  'auditor.outcome': 'Resultado',
  'auditor.any': 'Cualquiera',
  'auditor.notYet': 'Este registro aún no permite filtrar por: {list}.',
  'auditor.events': 'Eventos',
  'chain.title': 'Integridad del registro de auditoría',
  'chain.checking': 'Verificando la cadena de auditoría…',
  'chain.valid': 'La cadena de auditoría está íntegra.',
  'chain.broken': 'La cadena de auditoría fue alterada.',
  'chain.events': 'Eventos verificados: {n}.',
  'chain.brokenAt': 'Primer problema: {at}',
  'chain.unavailable': 'Verificación no disponible en este registro.',
  'chain.again': 'Verificar de nuevo',

  'accreditation.title': 'Acreditación de SIHCE',
  'accreditation.lead':
    'Ejecute las pruebas de la fase funcional de la acreditación (criterios N0.GBL de la Directiva Administrativa 373-MINSA/OGTI-2025) contra el servicio FHIR de un SIHCE, siga su avance y descargue los informes para el expediente.',
  'accreditation.serverSaid': 'El registro indicó: {said}',
  'accreditation.new': 'Nueva ejecución',
  'accreditation.suite': 'Conjunto de pruebas',
  'accreditation.suiteOption': '{title} ({tests})',
  'accreditation.noSuites': 'El registro no ofrece conjuntos de pruebas.',
  'accreditation.target': 'URL del servicio FHIR evaluado',
  'accreditation.targetHint': 'La URL base FHIR del SIHCE, por ejemplo https://sihce.hospital.example/fhir.',
  'accreditation.targetInvalid': 'Escriba una URL que empiece con https:// (o http://).',
  'accreditation.token': 'Token de acceso (opcional)',
  'accreditation.tokenHint': 'El token «Bearer» que las pruebas envían al sistema evaluado. El registro no lo guarda.',
  'accreditation.variables': 'Datos de las pruebas',
  'accreditation.noVariables': 'Este conjunto de pruebas no necesita datos.',
  'accreditation.required': '{name} (obligatorio)',
  'accreditation.variableRequired': 'Escriba un valor para {name}.',
  'accreditation.start': 'Iniciar',
  'accreditation.starting': 'Iniciando la ejecución…',
  'accreditation.refused': 'No se inició la ejecución.',
  'accreditation.refusedField': 'No se inició la ejecución: revise «{field}».',
  'accreditation.busy': 'Hay demasiadas ejecuciones en curso. Intente de nuevo en unos minutos.',
  'accreditation.back': 'Acreditación',
  'accreditation.loadingRun': 'Cargando la ejecución…',
  'accreditation.runUnavailable': 'No se pudo mostrar la ejecución',
  'accreditation.target.label': 'Sistema evaluado',
  'accreditation.auditor': 'Iniciada por',
  'accreditation.started': 'Inicio',
  'accreditation.finished': 'Fin',
  'accreditation.status': 'Estado',
  'accreditation.verdict': 'Resultado',
  'accreditation.progress': 'Avance de la ejecución',
  'accreditation.progressRunning': 'En curso: {done} de {total} pruebas terminadas, {passed} cumplen.',
  'accreditation.progressCompleted': 'Terminada: {passed} de {total} pruebas cumplen.',
  'accreditation.progressStopped': 'Detenida tras {done} de {total} pruebas.',
  'accreditation.stoppedBecause': 'La ejecución se detuvo: {error}',
  'accreditation.retrying': 'No se pudo consultar el avance; se vuelve a intentar.',
  'accreditation.tests': 'Pruebas',
  'accreditation.noTests': 'Ninguna prueba ha terminado todavía.',
  'accreditation.criterion': 'Criterio',
  'accreditation.test': 'Prueba',
  'accreditation.reason': 'Motivo',
  'accreditation.time': 'Tiempo',
  'accreditation.ms': '{n} ms',
  'accreditation.noCriterion': 'Sin criterio',
  'accreditation.reports': 'Informes',
  'accreditation.reportsHint': 'Se descargan como archivos; ábralos desde su equipo.',
  'accreditation.reportsLater': 'Los informes se podrán descargar cuando termine la ejecución.',
  'accreditation.noReports': 'La ejecución se detuvo antes de terminar: no tiene informes.',
  'accreditation.download.html': 'Descargar informe (HTML)',
  'accreditation.download.junit': 'Descargar resultados JUnit (XML)',
  'accreditation.download.testreport': 'Descargar TestReport (FHIR JSON)',
  'accreditation.downloading': 'Descargando…',
  'accreditation.downloaded': 'Descargado: {file}',
  'accreditation.downloadFailed': 'No se pudo descargar {file}.',
  'accreditation.past': 'Ejecuciones anteriores',
  'accreditation.none': 'Todavía no hay ejecuciones.',
  'accreditation.date': 'Fecha',
  'accreditation.suiteCol': 'Conjunto',
  'accreditation.passed': 'Cumplen',
  'accreditation.passedOf': '{passed} de {total}',

  'admin.title': 'Administración',
  'admin.lead': 'Registre las IPRESS del registro nacional y los sistemas de información (SIHCE) que le envían sus registros con sus propias claves.',
  'admin.serverSaid': 'El registro indicó: {said}',
  'admin.ipress': 'IPRESS registradas',
  'admin.ipress.code': 'Código RENIPRESS',
  'admin.ipress.name': 'Nombre',
  'admin.ipress.state': 'Estado',
  'admin.ipress.active': 'Activa',
  'admin.ipress.inactive': 'Inactiva',
  'admin.ipress.none': 'No hay IPRESS registradas.',
  'admin.ipress.shown': 'Se muestran {n}.',
  'admin.ipress.more': 'Mostrar más IPRESS',
  'admin.ipress.new': 'Registrar una IPRESS',
  'admin.ipress.codeHint': '8 dígitos, con los ceros iniciales (00012345), como figura en RENIPRESS.',
  'admin.ipress.codeInvalid': 'El código RENIPRESS tiene 8 dígitos.',
  'admin.ipress.nameHint': 'Como figura en RENIPRESS.',
  'admin.ipress.nameRequired': 'Escriba el nombre de la IPRESS.',
  'admin.ipress.submit': 'Registrar IPRESS',
  'admin.ipress.saving': 'Registrando la IPRESS…',
  'admin.ipress.saved': 'IPRESS registrada: {name} ({code}).',
  'admin.ipress.duplicate': 'Ya hay una IPRESS registrada con el código {code}.',
  'admin.ipress.refused': 'No se registró la IPRESS.',
  'admin.clients': 'Sistemas (SIHCE) registrados',
  'admin.clients.lead': 'Cada sistema obtiene sus credenciales firmando con su clave privada; el registro guarda solo sus claves públicas.',
  'admin.clients.none': 'No hay sistemas registrados.',
  'admin.client.id': 'Identificador del sistema',
  'admin.client.ipress': 'IPRESS',
  'admin.client.state': 'Estado',
  'admin.client.keys': 'Claves (kid)',
  'admin.client.updated': 'Actualizado',
  'admin.client.actions': 'Acciones',
  'admin.client.active': 'Activo',
  'admin.client.inactive': 'Desactivado',
  'admin.client.disable': 'Desactivar',
  'admin.client.enable': 'Reactivar',
  'admin.client.disableTitle': 'Desactivar el sistema {id}',
  'admin.client.disableText': 'El sistema {id} dejará de obtener credenciales nuevas; las que ya obtuvo dejan de servir al vencer, en pocos minutos. Puede reactivarlo después sin volver a registrar sus claves.',
  'admin.client.enableTitle': 'Reactivar el sistema {id}',
  'admin.client.enableText': 'El sistema {id} podrá volver a obtener credenciales con las claves que tiene registradas.',
  'admin.client.disabled': 'Sistema {id} desactivado.',
  'admin.client.enabled': 'Sistema {id} reactivado.',
  'admin.client.changeFailed': 'No se pudo cambiar el estado del sistema {id}.',
  'admin.client.new': 'Registrar o reemplazar un sistema',
  'admin.client.idHint': 'De 1 a 64 letras, dígitos, «-», «.» o «_». Si ya está registrado, se reemplazan su IPRESS y sus claves.',
  'admin.client.idInvalid': 'El identificador tiene de 1 a 64 letras, dígitos, «-», «.» o «_».',
  'admin.client.idReserved': 'Ese identificador es el de la aplicación web del registro: elija otro.',
  'admin.client.renipress': 'Código RENIPRESS de su IPRESS',
  'admin.client.renipressHint': 'La IPRESS por la que actúa el sistema; debe estar registrada.',
  'admin.client.ipressMissing': 'IPRESS no registrada',
  'admin.client.ipressUnknown': 'No hay una IPRESS registrada con ese código: regístrela primero.',
  'admin.client.jwks': 'Claves públicas (JWKS)',
  'admin.client.jwksHint': 'Pegue el JWKS del sistema, {"keys": [ … ]}, cada clave con su «kid». Solo las claves públicas: la clave privada no sale del sistema.',
  'admin.client.jwksRequired': 'Pegue las claves públicas del sistema.',
  'admin.client.jwksNotJson': 'Lo pegado no es JSON válido.',
  'admin.client.jwksShape': 'Un JWKS es {"keys": [ … ]}, con al menos una clave.',
  'admin.client.scope': 'Permisos (scopes SMART)',
  'admin.client.scopeHint': 'Opcional. Lo que pueden hacer sus credenciales, p. ej. «system/Patient.cru system/DocumentReference.crs system/List.c». Vacío: los que ya tenía; un sistema nuevo, todo lo que un SIHCE puede (system/*.cruds).',
  'admin.client.activeLabel': 'Activo: puede obtener credenciales',
  'admin.client.submit': 'Registrar sistema',
  'admin.client.saving': 'Guardando…',
  'admin.client.created': 'Sistema {id} registrado para {ipress}.',
  'admin.client.replaced': 'Sistema {id} reemplazado: desde ahora valen solo las claves nuevas.',
  'admin.client.refused': 'No se registró el sistema.',
  'admin.client.refusedField': 'No se registró el sistema: revise «{field}».',
  'admin.client.replaceTitle': 'Reemplazar el sistema {id}',
  'admin.client.replaceText': 'El sistema {id} ya está registrado (claves: {kids}). Su IPRESS y sus claves se reemplazan por las nuevas, de inmediato.',
  'admin.client.replace': 'Reemplazar',
};

/** @typedef {keyof typeof es} Key */
/**
 * @template K
 * @typedef {K extends `${infer Base}.one` ? Base : never} BaseOf
 */
/** @typedef {BaseOf<Key>} PluralKey */

/** Codes in words, by table and code. */
const TABLES_ES = {
  idKind: { 1: 'DNI', 2: 'CE', 3: 'Pasaporte', 4: 'Doc. extranjero' },
  idKindLong: { 1: 'DNI', 2: 'Carné de extranjería', 3: 'Pasaporte', 4: 'Documento de identidad extranjero' },
  gender: { female: 'Femenino', male: 'Masculino', other: 'Otro', unknown: 'No consta' },
  role: { clinician: 'Profesional de salud', patient: 'Paciente', auditor: 'Auditoría', admin: 'Administración', system: 'Sistema de la IPRESS' },
  purpose: { TREAT: 'atención de salud', ETREAT: 'EMERGENCIA', PATRQT: 'a pedido del paciente', HOPERAT: 'operaciones del establecimiento' },
  period: { 7: 'Últimos 7 días', 30: 'Últimos 30 días', 365: 'Último año', 0: 'Todo' },
  status: {
    active: 'activo',
    inactive: 'inactivo',
    resolved: 'resuelto',
    remission: 'en remisión',
    recurrence: 'recurrente',
    relapse: 'recaída',
    completed: 'completado',
    stopped: 'suspendido',
    'on-hold': 'en pausa',
    'entered-in-error': 'registrado por error',
    'not-taken': 'no tomado',
    intended: 'previsto',
    final: 'final',
  },
  criticality: { low: 'baja', high: 'alta', 'unable-to-assess': 'no evaluable' },
  consentStatus: { inactive: 'Retirado', 'entered-in-error': 'Registrado por error', draft: 'Borrador', proposed: 'Propuesto', rejected: 'Rechazado' },
  colegio: {
    '01': 'Colegio Médico del Perú',
    '02': 'Colegio Químico Farmacéutico del Perú',
    '03': 'Colegio Odontológico del Perú',
    '04': 'Colegio de Biólogos del Perú',
    '05': 'Colegio de Obstetras del Perú',
    '06': 'Colegio de Enfermeros del Perú',
    '07': 'Colegio de Trabajadores Sociales del Perú',
    '08': 'Colegio de Psicólogos del Perú',
    '09': 'Colegio Tecnólogo Médico del Perú',
    '1O': 'Colegio de Nutricionistas del Perú',
    10: 'Colegio de Nutricionistas del Perú',
  },
  loinc: {
    '34133-9': 'Resumen de episodio',
    '18842-5': 'Epicrisis (resumen de alta)',
    '11488-4': 'Nota de interconsulta',
    '11502-2': 'Informe de laboratorio',
    '11369-6': 'Historial de vacunación',
    '60591-5': 'Resumen del paciente',
    '34117-2': 'Historia clínica y examen físico',
    '11506-3': 'Nota de evolución',
    '18748-4': 'Informe de imágenes',
    '57833-6': 'Receta',
    '28570-0': 'Nota de procedimiento',
    '34108-1': 'Nota de consulta ambulatoria',
  },
  iti: {
    'ITI-65': 'registró documentos en el índice',
    'ITI-67': 'buscó documentos',
    'ITI-66': 'buscó envíos de documentos',
    'ITI-78': 'buscó pacientes',
    'ITI-83': 'consultó los documentos de identidad del paciente',
    'ITI-104': 'registró o actualizó datos de identidad',
    'ITI-108': 'consultó consentimientos',
    'ITI-81': 'consultó el registro de auditoría',
    'ITI-71': 'pidió credenciales de acceso',
  },
  interaction: {
    read: 'vio',
    vread: 'vio una versión de',
    'history-instance': 'vio el historial de',
    create: 'registró',
    update: 'modificó',
    'search-type': 'buscó',
    transaction: 'registró',
    batch: 'registró',
    capabilities: 'consultó',
  },
  object: {
    Patient: 'los datos de identidad',
    DocumentReference: 'un documento del índice',
    List: 'un envío de documentos',
    Provenance: 'la procedencia de un documento',
    Consent: 'un consentimiento',
    Bundle: 'el resumen clínico',
    Organization: 'una IPRESS',
    AuditEvent: 'un evento de auditoría',
  },
  action: { C: 'Registrar', R: 'Ver', U: 'Modificar', E: 'Buscar o consultar' },
  outcome: { 0: 'Permitido', 4: 'Rechazado', 8: 'Falló' },
  verdict: { pass: 'Cumple', fail: 'No cumple', error: 'Error al ejecutar' },
  runStatus: { running: 'En curso', completed: 'Terminada', stopped: 'Detenida' },
  rule: {
    role: 'Su perfil no permite esta acción.',
    'ipress-registered': 'Su IPRESS no está registrada en el registro nacional.',
    'custodian-is-caller': 'Solo la IPRESS que tiene el registro puede escribirlo o corregirlo.',
    'own-ipress-entries':
      'Este registro lo tiene otra IPRESS. Sin el consentimiento del paciente, solo puede ver lo que registró su propia IPRESS.',
    'consent-authorisation': 'Para registrar un consentimiento en nombre del paciente se necesita su autorización firmada.',
    'patient-own-records': 'Un paciente solo puede ver sus propios registros.',
    'person-registered': 'El registro no tiene una historia con su documento de identidad.',
    'emergency-reason': 'El acceso de emergencia necesita un motivo.',
    'certificate-ipress': 'La conexión pertenece a otra IPRESS.',
  },
};

/** @typedef {'es' | 'en'} Lang */
/** @typedef {keyof typeof TABLES_ES} Table */
/** @typedef {{[T in Table]: Record<string, string>}} Tables */

/** @type {Lang} */
let current = localStorage.getItem(LANG_KEY) === 'en' ? 'en' : 'es';

/**
 * The English words, once loaded: Spanish is the default and the only language in the
 * first page, English comes in its own module when chosen.
 * @type {{strings: Record<Key, string>, tables: Tables} | null}
 */
let english = null;

/**
 * Loads what the language in use needs; call before the first words are drawn.
 * @returns {Promise<void>}
 */
export async function ready() {
  if (current === 'en' && !english) english = await import('./i18n-en.js');
}

/** @returns {Lang} the language in use. */
export function lang() {
  return current;
}

/**
 * Switches the language and remembers it.
 * @param {Lang} next
 * @returns {Promise<void>}
 */
export async function setLang(next) {
  current = next;
  localStorage.setItem(LANG_KEY, next);
  await ready();
}

/** @returns {string} the locale for dates and numbers. */
export function locale() {
  return current === 'es' ? 'es-PE' : 'en-GB';
}

/**
 * A text in the current language, with `{name}` placeholders filled in.
 * @param {Key} key
 * @param {Record<string, string | number>} [vars]
 */
export function t(key, vars) {
  const text = (current === 'en' && english?.strings[key]) || es[key];
  return vars ? text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m)) : text;
}

/**
 * A counted text: `{key}.one` for one, `{key}.other` otherwise.
 * @param {PluralKey} key
 * @param {number} n
 */
export function plural(key, n) {
  const which = /** @type {Key} */ (`${key}.${n === 1 ? 'one' : 'other'}`);
  return t(which, { n: new Intl.NumberFormat(locale()).format(n) });
}

/**
 * A code in words from one of the tables of the current language; undefined for a code
 * not known there (the caller then shows the registry's own words or the code).
 * @param {Table} table
 * @param {string} code
 * @returns {string | undefined}
 */
export function lookup(table, code) {
  /** @type {Record<string, string>} */
  const words = current === 'en' && english ? english.tables[table] : TABLES_ES[table];
  return Object.hasOwn(words, code) ? words[code] : undefined;
}

/**
 * The words for an access rule the registry named in a refusal (its 403s name one of
 * the rules of crates/server/src/auth/access.rs); empty for a rule not known here.
 * @param {string} rule
 */
export function ruleText(rule) {
  return lookup('rule', rule) ?? '';
}
