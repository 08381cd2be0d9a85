//! ACLs: describe every topic ACL, and create ACLs.
//!
//! Two librdkafka 2.12.1 defects shape what these calls can promise:
//! - `rd_kafka_DescribeAclsResponse_parse` reads the response's top-level error code but never
//!   reports it, so a cluster without an authorizer answers `describe_topic_acls` with no ACLs
//!   rather than SECURITY_DISABLED. `AdminError::SecurityDisabled` therefore comes from
//!   `create_acls` (whose per-ACL errors librdkafka does report) or from an event-level error.
//! - The ACL response parsers return success after a protocol parse failure, which trips an
//!   assertion and aborts the process. A broker that stubs CreateAcls with a result count other
//!   than one per ACL (tansu 0.6.0 answers with none) does that, so call `create_acls` only
//!   against clusters that implement ACLs.

use std::ffi::c_char;
use std::fmt;
use std::ptr;
use std::time::Duration;

use rdkafka::admin::AdminClient;
use rdkafka::bindings as rd;
use rdkafka::bindings::{
    rd_kafka_AclOperation_t, rd_kafka_AclPermissionType_t, rd_kafka_ResourcePatternType_t,
    rd_kafka_ResourceType_t,
};
use rdkafka::client::ClientContext;

use super::{c_string, error_object, request, slice, string, AdminError, Owned};

/// One ACL: `principal` from `host` is allowed or denied `operation` on the resources that
/// `name` matches under `pattern_type`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclBinding {
    pub resource_type: AclResourceType,
    pub name: String,
    pub pattern_type: AclPatternType,
    /// `User:alice`, or `User:*` for everyone.
    pub principal: String,
    /// A client address, or `*` for any.
    pub host: String,
    pub operation: AclOperation,
    pub permission: AclPermission,
}

impl fmt::Display for AclBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} on {} `{}` ({}) for `{}` from host `{}`",
            self.permission.as_str(),
            self.operation.as_str(),
            self.resource_type.as_str(),
            self.name,
            self.pattern_type.as_str(),
            self.principal,
            self.host
        )
    }
}

/// Generates the mapping between a domain enum and librdkafka's enum, both ways, from one list,
/// plus each variant's Kafka name.
macro_rules! native_enum {
    ($domain:ident <=> $native:ident { $($variant:ident = $value:ident $name:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $domain {
            $($variant),+
        }

        impl $domain {
            #[cfg(test)]
            const ALL: &'static [$domain] = &[$($domain::$variant),+];

            /// The Kafka name, as in `kafka-acls.sh` output.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($domain::$variant => $name),+
                }
            }

            fn to_native(self) -> $native {
                match self {
                    $($domain::$variant => $native::$value),+
                }
            }

            /// `None` for the filter-only and unknown values (ANY, UNKNOWN, future ones).
            fn from_native(native: $native) -> Option<$domain> {
                match native {
                    $($native::$value => Some($domain::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

native_enum!(AclResourceType <=> rd_kafka_ResourceType_t {
    Topic = RD_KAFKA_RESOURCE_TOPIC "TOPIC",
    Group = RD_KAFKA_RESOURCE_GROUP "GROUP",
    // librdkafka names Kafka's ACL resource type CLUSTER (4) after the config resource BROKER (4).
    Cluster = RD_KAFKA_RESOURCE_BROKER "CLUSTER",
    TransactionalId = RD_KAFKA_RESOURCE_TRANSACTIONAL_ID "TRANSACTIONAL_ID",
});

native_enum!(AclPatternType <=> rd_kafka_ResourcePatternType_t {
    Literal = RD_KAFKA_RESOURCE_PATTERN_LITERAL "LITERAL",
    Prefixed = RD_KAFKA_RESOURCE_PATTERN_PREFIXED "PREFIXED",
    // Only meaningful in filters; brokers store LITERAL and PREFIXED ACLs.
    Match = RD_KAFKA_RESOURCE_PATTERN_MATCH "MATCH",
});

native_enum!(AclOperation <=> rd_kafka_AclOperation_t {
    All = RD_KAFKA_ACL_OPERATION_ALL "ALL",
    Read = RD_KAFKA_ACL_OPERATION_READ "READ",
    Write = RD_KAFKA_ACL_OPERATION_WRITE "WRITE",
    Create = RD_KAFKA_ACL_OPERATION_CREATE "CREATE",
    Delete = RD_KAFKA_ACL_OPERATION_DELETE "DELETE",
    Alter = RD_KAFKA_ACL_OPERATION_ALTER "ALTER",
    Describe = RD_KAFKA_ACL_OPERATION_DESCRIBE "DESCRIBE",
    ClusterAction = RD_KAFKA_ACL_OPERATION_CLUSTER_ACTION "CLUSTER_ACTION",
    DescribeConfigs = RD_KAFKA_ACL_OPERATION_DESCRIBE_CONFIGS "DESCRIBE_CONFIGS",
    AlterConfigs = RD_KAFKA_ACL_OPERATION_ALTER_CONFIGS "ALTER_CONFIGS",
    IdempotentWrite = RD_KAFKA_ACL_OPERATION_IDEMPOTENT_WRITE "IDEMPOTENT_WRITE",
});

native_enum!(AclPermission <=> rd_kafka_AclPermissionType_t {
    Allow = RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW "ALLOW",
    Deny = RD_KAFKA_ACL_PERMISSION_TYPE_DENY "DENY",
});

const DESCRIBE: &str = "describe topic acls";
const CREATE: &str = "create acls";

/// Every ACL on topics, of every pattern type, principal, host, operation and permission.
/// ACLs with a value this module has no variant for (a newer operation, say) are left out, with
/// a warning.
pub async fn describe_topic_acls<C: ClientContext>(
    admin: &AdminClient<C>,
    timeout: Duration,
) -> Result<Vec<AclBinding>, AdminError> {
    let api = rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBEACLS;
    let event = request(admin, api, DESCRIBE, timeout, |rk, options, queue| {
        let mut errstr = [0 as c_char; 512];
        // SAFETY: null strings mean "any" in a filter; `errstr` is writable for its length; the
        // returned filter is ours and freed by the guard.
        let filter = unsafe {
            Owned::from_ptr(
                rd::rd_kafka_AclBindingFilter_new(
                    rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_TOPIC,
                    ptr::null(),
                    rd_kafka_ResourcePatternType_t::RD_KAFKA_RESOURCE_PATTERN_ANY,
                    ptr::null(),
                    ptr::null(),
                    rd_kafka_AclOperation_t::RD_KAFKA_ACL_OPERATION_ANY,
                    rd_kafka_AclPermissionType_t::RD_KAFKA_ACL_PERMISSION_TYPE_ANY,
                    errstr.as_mut_ptr(),
                    errstr.len(),
                ),
                rd::rd_kafka_AclBinding_destroy,
            )
        };
        // SAFETY: librdkafka NUL-terminates what it writes into the zeroed buffer.
        let filter = filter
            .ok_or_else(|| AdminError::invalid(DESCRIBE, unsafe { string(errstr.as_ptr()) }))?;
        // SAFETY: all pointers are live; librdkafka copies the filter, which the guard frees.
        unsafe { rd::rd_kafka_DescribeAcls(rk, filter.ptr(), options, queue) };
        Ok(())
    })
    .await?;
    let result = event.result(DESCRIBE, rd::rd_kafka_event_DescribeAcls_result)?;
    let mut count = 0;
    // SAFETY: `result` is this event's DescribeAcls result; the array and its bindings live as
    // long as `event`, which outlives the reads below.
    let natives = unsafe {
        slice(
            rd::rd_kafka_DescribeAcls_result_acls(result, &mut count),
            count,
        )
    };
    let mut bindings = Vec::with_capacity(natives.len());
    for &native in natives {
        // SAFETY: a live binding of the result.
        match unsafe { binding_from_native(native) } {
            Ok(binding) => bindings.push(binding),
            Err(unknown) => tracing::warn!("skipping an acl with {unknown}"),
        }
    }
    Ok(bindings)
}

/// Creates `bindings` and returns each one's outcome, in the order given. `Err` means nothing
/// was created: a binding is invalid (a MATCH pattern type, an empty name, principal or host)
/// or the request failed as a whole.
pub async fn create_acls<C: ClientContext>(
    admin: &AdminClient<C>,
    bindings: &[AclBinding],
    timeout: Duration,
) -> Result<Vec<Result<(), AdminError>>, AdminError> {
    if bindings.is_empty() {
        return Ok(Vec::new());
    }
    let api = rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_CREATEACLS;
    let event = request(admin, api, CREATE, timeout, |rk, options, queue| {
        let natives = bindings
            .iter()
            .map(|b| native_binding(b, CREATE))
            .collect::<Result<Vec<_>, _>>()?;
        let mut ptrs: Vec<_> = natives.iter().map(Owned::ptr).collect();
        // SAFETY: all pointers are live; `ptrs` holds `ptrs.len()` bindings, which librdkafka
        // copies, so `natives` frees them after.
        unsafe { rd::rd_kafka_CreateAcls(rk, ptrs.as_mut_ptr(), ptrs.len(), options, queue) };
        Ok(())
    })
    .await?;
    let result = event.result(CREATE, rd::rd_kafka_event_CreateAcls_result)?;
    let mut count = 0;
    // SAFETY: `result` is this event's CreateAcls result; the array and its results live as long
    // as `event`. librdkafka checks that there is one result per binding, in request order.
    let results = unsafe {
        slice(
            rd::rd_kafka_CreateAcls_result_acls(result, &mut count),
            count,
        )
    };
    if results.len() != bindings.len() {
        return Err(AdminError::Request {
            operation: CREATE.to_string(),
            message: format!("{} results for {} acls", results.len(), bindings.len()),
        });
    }
    let outcomes = results
        .iter()
        .zip(bindings)
        .map(|(&result, binding)| {
            // SAFETY: a live result; its error object, if any, lives as long as the result.
            match unsafe { error_object(rd::rd_kafka_acl_result_error(result)) } {
                None => Ok(()),
                Some((rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_SECURITY_DISABLED, _)) => {
                    Err(AdminError::SecurityDisabled)
                }
                Some((_, message)) => Err(AdminError::CreateAcl {
                    binding: binding.to_string(),
                    message,
                }),
            }
        })
        .collect();
    Ok(outcomes)
}

/// The native binding for `binding`; librdkafka validates it.
fn native_binding(
    binding: &AclBinding,
    operation: &str,
) -> Result<Owned<rd::rd_kafka_AclBinding_t>, AdminError> {
    let name = c_string(&binding.name, "resource name", operation)?;
    let principal = c_string(&binding.principal, "principal", operation)?;
    let host = c_string(&binding.host, "host", operation)?;
    let mut errstr = [0 as c_char; 512];
    // SAFETY: the strings are C strings that librdkafka copies; `errstr` is writable for its
    // length; the returned binding is ours and freed by the guard.
    let native = unsafe {
        Owned::from_ptr(
            rd::rd_kafka_AclBinding_new(
                binding.resource_type.to_native(),
                name.as_ptr(),
                binding.pattern_type.to_native(),
                principal.as_ptr(),
                host.as_ptr(),
                binding.operation.to_native(),
                binding.permission.to_native(),
                errstr.as_mut_ptr(),
                errstr.len(),
            ),
            rd::rd_kafka_AclBinding_destroy,
        )
    };
    native.ok_or_else(|| {
        // SAFETY: librdkafka NUL-terminates what it writes into the zeroed buffer.
        let message = unsafe { string(errstr.as_ptr()) };
        AdminError::invalid(operation, format!("acl [{binding}]: {message}"))
    })
}

/// The domain form of a native binding, or a description of the value it has no variant for.
///
/// # Safety
/// `native` must be a live binding.
unsafe fn binding_from_native(
    native: *const rd::rd_kafka_AclBinding_t,
) -> Result<AclBinding, String> {
    // SAFETY: a live binding (the caller's contract); its strings are copied.
    let (restype, name, pattern, principal, host, operation, permission) = unsafe {
        (
            rd::rd_kafka_AclBinding_restype(native),
            string(rd::rd_kafka_AclBinding_name(native)),
            rd::rd_kafka_AclBinding_resource_pattern_type(native),
            string(rd::rd_kafka_AclBinding_principal(native)),
            string(rd::rd_kafka_AclBinding_host(native)),
            rd::rd_kafka_AclBinding_operation(native),
            rd::rd_kafka_AclBinding_permission_type(native),
        )
    };
    let unknown = |what: &str, value: u32| format!("unknown {what} {value} (resource `{name}`)");
    Ok(AclBinding {
        resource_type: AclResourceType::from_native(restype)
            .ok_or_else(|| unknown("resource type", restype as u32))?,
        pattern_type: AclPatternType::from_native(pattern)
            .ok_or_else(|| unknown("pattern type", pattern as u32))?,
        operation: AclOperation::from_native(operation)
            .ok_or_else(|| unknown("operation", operation as u32))?,
        permission: AclPermission::from_native(permission)
            .ok_or_else(|| unknown("permission", permission as u32))?,
        name,
        principal,
        host,
    })
}

/// ACL requests are not testable against tansu (it has no ACL APIs), so the conversions are
/// tested here, through librdkafka's own binding constructor and accessors.
#[cfg(test)]
mod tests {
    use super::*;

    fn binding(
        resource_type: AclResourceType,
        pattern_type: AclPatternType,
        operation: AclOperation,
        permission: AclPermission,
    ) -> AclBinding {
        AclBinding {
            resource_type,
            name: "orders".to_string(),
            pattern_type,
            principal: "User:alice".to_string(),
            host: "10.0.0.1".to_string(),
            operation,
            permission,
        }
    }

    fn round_trip(b: &AclBinding) -> Result<AclBinding, AdminError> {
        let native = native_binding(b, CREATE)?;
        // SAFETY: a live binding owned by `native`.
        Ok(unsafe { binding_from_native(native.ptr()) }.expect("known values"))
    }

    #[test]
    fn enums_map_to_the_kafka_protocol_values() {
        // Kafka's wire values, which librdkafka's enums mirror.
        let resource: Vec<u32> = AclResourceType::ALL
            .iter()
            .map(|v| v.to_native() as u32)
            .collect();
        assert_eq!(resource, [2, 3, 4, 5]);
        let pattern: Vec<u32> = AclPatternType::ALL
            .iter()
            .map(|v| v.to_native() as u32)
            .collect();
        assert_eq!(pattern, [3, 4, 2]);
        let op: Vec<u32> = AclOperation::ALL
            .iter()
            .map(|v| v.to_native() as u32)
            .collect();
        assert_eq!(op, (2..=12).collect::<Vec<_>>());
        let permission: Vec<u32> = AclPermission::ALL
            .iter()
            .map(|v| v.to_native() as u32)
            .collect();
        assert_eq!(permission, [3, 2]);
    }

    #[test]
    fn enums_round_trip_and_reject_filter_values() {
        for &v in AclResourceType::ALL {
            assert_eq!(AclResourceType::from_native(v.to_native()), Some(v));
        }
        for &v in AclPatternType::ALL {
            assert_eq!(AclPatternType::from_native(v.to_native()), Some(v));
        }
        for &v in AclOperation::ALL {
            assert_eq!(AclOperation::from_native(v.to_native()), Some(v));
        }
        for &v in AclPermission::ALL {
            assert_eq!(AclPermission::from_native(v.to_native()), Some(v));
        }
        assert_eq!(
            AclResourceType::from_native(rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_ANY),
            None
        );
        assert_eq!(
            AclPatternType::from_native(
                rd_kafka_ResourcePatternType_t::RD_KAFKA_RESOURCE_PATTERN_ANY
            ),
            None
        );
        assert_eq!(
            AclOperation::from_native(rd_kafka_AclOperation_t::RD_KAFKA_ACL_OPERATION_ANY),
            None
        );
        assert_eq!(
            AclPermission::from_native(
                rd_kafka_AclPermissionType_t::RD_KAFKA_ACL_PERMISSION_TYPE_UNKNOWN
            ),
            None
        );
    }

    #[test]
    fn bindings_survive_librdkafka_for_every_value() {
        use AclPatternType::{Literal, Prefixed};
        for &resource in AclResourceType::ALL {
            for &operation in AclOperation::ALL {
                for &permission in AclPermission::ALL {
                    for pattern in [Literal, Prefixed] {
                        let b = binding(resource, pattern, operation, permission);
                        assert_eq!(round_trip(&b).unwrap(), b);
                    }
                }
            }
        }
    }

    #[test]
    fn librdkafka_rejects_what_a_broker_cannot_store() {
        use AclOperation::Read;
        use AclPermission::Allow;
        let matching = binding(AclResourceType::Topic, AclPatternType::Match, Read, Allow);
        let err = round_trip(&matching).unwrap_err();
        assert!(matches!(err, AdminError::InvalidRequest { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("ALLOW READ on TOPIC `orders` (MATCH)"),
            "{err}"
        );

        let mut nul = binding(AclResourceType::Topic, AclPatternType::Literal, Read, Allow);
        nul.principal = "User:a\0b".to_string();
        assert!(matches!(
            round_trip(&nul),
            Err(AdminError::InvalidRequest { .. })
        ));
    }

    #[test]
    fn display_reads_like_an_acl() {
        let b = binding(
            AclResourceType::TransactionalId,
            AclPatternType::Prefixed,
            AclOperation::IdempotentWrite,
            AclPermission::Deny,
        );
        assert_eq!(
            b.to_string(),
            "DENY IDEMPOTENT_WRITE on TRANSACTIONAL_ID `orders` (PREFIXED) for `User:alice` from host `10.0.0.1`"
        );
    }
}
