//! The admin calls rust-rdkafka does not wrap — DescribeAcls, CreateAcls,
//! IncrementalAlterConfigs, DescribeTopics (for topic ids, which rust-rdkafka's metadata does
//! not expose) and the consumer-group offsets of many groups through one client
//! (ListConsumerGroupOffsets, AlterConsumerGroupOffsets) — made through librdkafka's C API (rdkafka-sys), behind a safe interface. This is the only module with `unsafe` code. Each call runs on a blocking thread
//! with its own result queue on the admin client's handle, and frees every C object it creates,
//! on every path.

#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::fmt;
use std::os::raw::c_char;
use std::ptr;
use std::sync::Arc;
use std::time::Duration;

use std::collections::HashMap;

use rdkafka::admin::AdminClient;
use rdkafka::client::{Client, ClientContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka_sys as sys;
use sys::bindings as b;

use super::{LogContext, ADMIN_TIMEOUT};
use crate::flow::TopicId;

/// ACL operation (Kafka's `AclOperation`), by the names Kafka's tools print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AclOperation {
    All,
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    ClusterAction,
    DescribeConfigs,
    AlterConfigs,
    IdempotentWrite,
    Unknown,
}

/// ACL permission (Kafka's `AclPermissionType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AclPermission {
    Allow,
    Deny,
    Unknown,
}

/// Resource pattern type of an ACL binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PatternType {
    Literal,
    Prefixed,
    Unknown,
}

/// One ACL binding on a topic resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicAcl {
    pub topic: String,
    pub pattern: PatternType,
    pub principal: String,
    pub host: String,
    pub operation: AclOperation,
    pub permission: AclPermission,
}

impl fmt::Display for TopicAcl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {:?} {:?} on topic `{}` from host {}",
            self.principal,
            match self.permission {
                AclPermission::Allow => "ALLOW",
                AclPermission::Deny => "DENY",
                AclPermission::Unknown => "UNKNOWN",
            },
            self.operation,
            self.pattern,
            self.topic,
            self.host
        )
    }
}

impl AclOperation {
    fn to_c(self) -> b::rd_kafka_AclOperation_t {
        use b::rd_kafka_AclOperation_t::*;
        match self {
            AclOperation::All => RD_KAFKA_ACL_OPERATION_ALL,
            AclOperation::Read => RD_KAFKA_ACL_OPERATION_READ,
            AclOperation::Write => RD_KAFKA_ACL_OPERATION_WRITE,
            AclOperation::Create => RD_KAFKA_ACL_OPERATION_CREATE,
            AclOperation::Delete => RD_KAFKA_ACL_OPERATION_DELETE,
            AclOperation::Alter => RD_KAFKA_ACL_OPERATION_ALTER,
            AclOperation::Describe => RD_KAFKA_ACL_OPERATION_DESCRIBE,
            AclOperation::ClusterAction => RD_KAFKA_ACL_OPERATION_CLUSTER_ACTION,
            AclOperation::DescribeConfigs => RD_KAFKA_ACL_OPERATION_DESCRIBE_CONFIGS,
            AclOperation::AlterConfigs => RD_KAFKA_ACL_OPERATION_ALTER_CONFIGS,
            AclOperation::IdempotentWrite => RD_KAFKA_ACL_OPERATION_IDEMPOTENT_WRITE,
            AclOperation::Unknown => RD_KAFKA_ACL_OPERATION_UNKNOWN,
        }
    }

    fn from_c(op: b::rd_kafka_AclOperation_t) -> Self {
        use b::rd_kafka_AclOperation_t::*;
        match op {
            RD_KAFKA_ACL_OPERATION_ALL => AclOperation::All,
            RD_KAFKA_ACL_OPERATION_READ => AclOperation::Read,
            RD_KAFKA_ACL_OPERATION_WRITE => AclOperation::Write,
            RD_KAFKA_ACL_OPERATION_CREATE => AclOperation::Create,
            RD_KAFKA_ACL_OPERATION_DELETE => AclOperation::Delete,
            RD_KAFKA_ACL_OPERATION_ALTER => AclOperation::Alter,
            RD_KAFKA_ACL_OPERATION_DESCRIBE => AclOperation::Describe,
            RD_KAFKA_ACL_OPERATION_CLUSTER_ACTION => AclOperation::ClusterAction,
            RD_KAFKA_ACL_OPERATION_DESCRIBE_CONFIGS => AclOperation::DescribeConfigs,
            RD_KAFKA_ACL_OPERATION_ALTER_CONFIGS => AclOperation::AlterConfigs,
            RD_KAFKA_ACL_OPERATION_IDEMPOTENT_WRITE => AclOperation::IdempotentWrite,
            _ => AclOperation::Unknown,
        }
    }
}

impl AclPermission {
    fn to_c(self) -> b::rd_kafka_AclPermissionType_t {
        use b::rd_kafka_AclPermissionType_t::*;
        match self {
            AclPermission::Allow => RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW,
            AclPermission::Deny => RD_KAFKA_ACL_PERMISSION_TYPE_DENY,
            AclPermission::Unknown => RD_KAFKA_ACL_PERMISSION_TYPE_UNKNOWN,
        }
    }

    fn from_c(p: b::rd_kafka_AclPermissionType_t) -> Self {
        use b::rd_kafka_AclPermissionType_t::*;
        match p {
            RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW => AclPermission::Allow,
            RD_KAFKA_ACL_PERMISSION_TYPE_DENY => AclPermission::Deny,
            _ => AclPermission::Unknown,
        }
    }
}

impl PatternType {
    fn to_c(self) -> b::rd_kafka_ResourcePatternType_t {
        use b::rd_kafka_ResourcePatternType_t::*;
        match self {
            PatternType::Literal => RD_KAFKA_RESOURCE_PATTERN_LITERAL,
            PatternType::Prefixed => RD_KAFKA_RESOURCE_PATTERN_PREFIXED,
            PatternType::Unknown => RD_KAFKA_RESOURCE_PATTERN_UNKNOWN,
        }
    }

    fn from_c(p: b::rd_kafka_ResourcePatternType_t) -> Self {
        use b::rd_kafka_ResourcePatternType_t::*;
        match p {
            RD_KAFKA_RESOURCE_PATTERN_LITERAL => PatternType::Literal,
            RD_KAFKA_RESOURCE_PATTERN_PREFIXED => PatternType::Prefixed,
            _ => PatternType::Unknown,
        }
    }
}

/// One incremental change to a topic config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOp {
    /// Set a topic-level override.
    Set { name: String, value: String },
    /// Remove a topic-level override (the topic falls back to the broker's default).
    Delete { name: String },
}

#[derive(Debug, thiserror::Error)]
pub enum NativeAdminError {
    #[error("{request} failed: {code}: {message}")]
    Request {
        request: &'static str,
        code: RDKafkaErrorCode,
        message: String,
    },
    #[error("{request} got no answer within {timeout:?}")]
    Timeout {
        request: &'static str,
        timeout: Duration,
    },
    #[error("invalid argument for {request}: {message}")]
    Argument {
        request: &'static str,
        message: String,
    },
}

impl NativeAdminError {
    /// The broker has no authorizer configured (ACL requests are answered with SECURITY_DISABLED).
    pub fn is_security_disabled(&self) -> bool {
        matches!(self, NativeAdminError::Request { code, .. } if *code == RDKafkaErrorCode::SecurityDisabled)
    }
}

/// Lists every ACL binding on topic resources (any pattern type, principal, host, operation).
/// `Err` with [`NativeAdminError::is_security_disabled`] when the cluster has no authorizer.
pub async fn describe_topic_acls(
    admin: &Arc<AdminClient<LogContext>>,
) -> Result<Vec<TopicAcl>, NativeAdminError> {
    let admin = Arc::clone(admin);
    tokio::task::spawn_blocking(move || {
        let rk = admin.inner().native_ptr();
        // SAFETY: `rk` stays valid while `admin` is alive (held by this closure). Every object
        // created here is owned by a guard that frees it.
        unsafe {
            let options = Options::new(rk, b::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBEACLS)?;
            let mut errstr = [0 as c_char; 512];
            let filter = b::rd_kafka_AclBindingFilter_new(
                b::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_TOPIC,
                ptr::null(),
                b::rd_kafka_ResourcePatternType_t::RD_KAFKA_RESOURCE_PATTERN_ANY,
                ptr::null(),
                ptr::null(),
                b::rd_kafka_AclOperation_t::RD_KAFKA_ACL_OPERATION_ANY,
                b::rd_kafka_AclPermissionType_t::RD_KAFKA_ACL_PERMISSION_TYPE_ANY,
                errstr.as_mut_ptr(),
                errstr.len(),
            );
            if filter.is_null() {
                return Err(NativeAdminError::Argument {
                    request: "DescribeAcls",
                    message: cstr(errstr.as_ptr()),
                });
            }
            let filter = Binding(filter);
            let queue = Queue::new(rk);
            b::rd_kafka_DescribeAcls(rk, filter.0, options.0, queue.0);
            let event = queue.wait("DescribeAcls")?;
            let res = b::rd_kafka_event_DescribeAcls_result(event.0);
            let mut cnt = 0usize;
            let acls = b::rd_kafka_DescribeAcls_result_acls(res, &mut cnt);
            let mut out = Vec::with_capacity(cnt);
            for i in 0..cnt {
                let acl = *acls.add(i);
                out.push(TopicAcl {
                    topic: cstr(b::rd_kafka_AclBinding_name(acl)),
                    pattern: PatternType::from_c(b::rd_kafka_AclBinding_resource_pattern_type(acl)),
                    principal: cstr(b::rd_kafka_AclBinding_principal(acl)),
                    host: cstr(b::rd_kafka_AclBinding_host(acl)),
                    operation: AclOperation::from_c(b::rd_kafka_AclBinding_operation(acl)),
                    permission: AclPermission::from_c(b::rd_kafka_AclBinding_permission_type(acl)),
                });
            }
            out.sort();
            Ok(out)
        }
    })
    .await
    .expect("DescribeAcls task panicked")
}

/// Creates ACL bindings on topics (idempotent on the broker: an existing binding is not
/// duplicated). Returns one result per binding, in order.
pub async fn create_topic_acls(
    admin: &Arc<AdminClient<LogContext>>,
    acls: Vec<TopicAcl>,
) -> Result<Vec<Result<(), String>>, NativeAdminError> {
    let admin = Arc::clone(admin);
    tokio::task::spawn_blocking(move || {
        let bindings: Vec<AclBinding> = acls.into_iter().map(AclBinding::from).collect();
        create_acls(&admin, &bindings)
    })
    .await
    .expect("CreateAcls task panicked")
}

/// The resource of an ACL binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AclResource {
    Topic,
    Group,
    /// The cluster itself (its name is `kafka-cluster`).
    Cluster,
    TransactionalId,
}

impl AclResource {
    fn to_c(self) -> b::rd_kafka_ResourceType_t {
        use b::rd_kafka_ResourceType_t::*;
        match self {
            AclResource::Topic => RD_KAFKA_RESOURCE_TOPIC,
            AclResource::Group => RD_KAFKA_RESOURCE_GROUP,
            AclResource::Cluster => RD_KAFKA_RESOURCE_BROKER,
            AclResource::TransactionalId => RD_KAFKA_RESOURCE_TRANSACTIONAL_ID,
        }
    }
}

/// One ACL binding on any resource (the admin tools of the tests and `TopicAcl` for ACL sync).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AclBinding {
    pub resource: AclResource,
    pub name: String,
    pub pattern: PatternType,
    pub principal: String,
    pub host: String,
    pub operation: AclOperation,
    pub permission: AclPermission,
}

impl From<TopicAcl> for AclBinding {
    fn from(a: TopicAcl) -> Self {
        AclBinding {
            resource: AclResource::Topic,
            name: a.topic,
            pattern: a.pattern,
            principal: a.principal,
            host: a.host,
            operation: a.operation,
            permission: a.permission,
        }
    }
}

impl AclBinding {
    /// The binding (`filter`: an exact-match filter for DeleteAcls).
    ///
    /// # Safety
    /// Plain FFI constructors; the result is owned by the guard.
    unsafe fn to_c(
        &self,
        request: &'static str,
        filter: bool,
    ) -> Result<Binding, NativeAdminError> {
        let arg = |s: &str| {
            CString::new(s).map_err(|_| NativeAdminError::Argument {
                request,
                message: format!("NUL byte in `{s}`"),
            })
        };
        let (name, principal, host) = (arg(&self.name)?, arg(&self.principal)?, arg(&self.host)?);
        let mut errstr = [0 as c_char; 512];
        let new = if filter {
            b::rd_kafka_AclBindingFilter_new
        } else {
            b::rd_kafka_AclBinding_new
        };
        let binding = new(
            self.resource.to_c(),
            name.as_ptr(),
            self.pattern.to_c(),
            principal.as_ptr(),
            host.as_ptr(),
            self.operation.to_c(),
            self.permission.to_c(),
            errstr.as_mut_ptr(),
            errstr.len(),
        );
        if binding.is_null() {
            return Err(NativeAdminError::Argument {
                request,
                message: format!("{self:?}: {}", cstr(errstr.as_ptr())),
            });
        }
        Ok(Binding(binding))
    }
}

/// Creates ACL bindings (idempotent on the broker). One result per binding, in order. Blocking.
pub fn create_acls<C: ClientContext>(
    admin: &AdminClient<C>,
    acls: &[AclBinding],
) -> Result<Vec<Result<(), String>>, NativeAdminError> {
    if acls.is_empty() {
        return Ok(Vec::new());
    }
    let rk = admin.inner().native_ptr();
    // SAFETY: `rk` stays valid while `admin` is borrowed; the bindings are owned by guards
    // until the end, the result by the event guard.
    unsafe {
        let options = Options::new(rk, b::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_CREATEACLS)?;
        let bindings = acls
            .iter()
            .map(|a| a.to_c("CreateAcls", false))
            .collect::<Result<Vec<_>, _>>()?;
        let mut raw: Vec<*mut b::rd_kafka_AclBinding_t> = bindings.iter().map(|b| b.0).collect();
        let queue = Queue::new(rk);
        b::rd_kafka_CreateAcls(rk, raw.as_mut_ptr(), raw.len(), options.0, queue.0);
        let event = queue.wait("CreateAcls")?;
        let res = b::rd_kafka_event_CreateAcls_result(event.0);
        let mut cnt = 0usize;
        let results = b::rd_kafka_CreateAcls_result_acls(res, &mut cnt);
        let mut out = Vec::with_capacity(cnt);
        for i in 0..cnt {
            out.push(error_of(b::rd_kafka_acl_result_error(*results.add(i))));
        }
        Ok(out)
    }
}

/// Deletes exactly the given bindings. Per binding, how many matched, in order. Blocking.
pub fn delete_acls<C: ClientContext>(
    admin: &AdminClient<C>,
    acls: &[AclBinding],
) -> Result<Vec<Result<usize, String>>, NativeAdminError> {
    if acls.is_empty() {
        return Ok(Vec::new());
    }
    let rk = admin.inner().native_ptr();
    // SAFETY: as in `create_acls`.
    unsafe {
        let options = Options::new(rk, b::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DELETEACLS)?;
        let filters = acls
            .iter()
            .map(|a| a.to_c("DeleteAcls", true))
            .collect::<Result<Vec<_>, _>>()?;
        let mut raw: Vec<*mut b::rd_kafka_AclBinding_t> = filters.iter().map(|b| b.0).collect();
        let queue = Queue::new(rk);
        b::rd_kafka_DeleteAcls(rk, raw.as_mut_ptr(), raw.len(), options.0, queue.0);
        let event = queue.wait("DeleteAcls")?;
        let res = b::rd_kafka_event_DeleteAcls_result(event.0);
        let mut cnt = 0usize;
        let responses = b::rd_kafka_DeleteAcls_result_responses(res, &mut cnt);
        let mut out = Vec::with_capacity(cnt);
        for i in 0..cnt {
            let response = *responses.add(i);
            out.push(
                error_of(b::rd_kafka_DeleteAcls_result_response_error(response)).map(|()| {
                    let mut matching = 0usize;
                    b::rd_kafka_DeleteAcls_result_response_matching_acls(response, &mut matching);
                    matching
                }),
            );
        }
        Ok(out)
    }
}

/// `Ok` for a null error, else its code and message.
///
/// # Safety
/// `err` is null or a live error object owned by a result.
unsafe fn error_of(err: *const b::rd_kafka_error_t) -> Result<(), String> {
    if err.is_null() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            RDKafkaErrorCode::from(b::rd_kafka_error_code(err)),
            cstr(b::rd_kafka_error_string(err))
        ))
    }
}

/// Applies incremental config changes to one topic (IncrementalAlterConfigs: the topic's other
/// overrides are left as they are).
pub async fn alter_topic_configs(
    admin: &Arc<AdminClient<LogContext>>,
    topic: &str,
    ops: Vec<ConfigOp>,
) -> Result<(), NativeAdminError> {
    if ops.is_empty() {
        return Ok(());
    }
    let admin = Arc::clone(admin);
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || {
        let rk = admin.inner().native_ptr();
        let arg = |s: &str| {
            CString::new(s).map_err(|_| NativeAdminError::Argument {
                request: "IncrementalAlterConfigs",
                message: format!("NUL byte in `{s}`"),
            })
        };
        // SAFETY: as in `describe_topic_acls`; the config resource is owned by a guard.
        unsafe {
            let options = Options::new(
                rk,
                b::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_INCREMENTALALTERCONFIGS,
            )?;
            let name = arg(&topic)?;
            let resource = Resource(b::rd_kafka_ConfigResource_new(
                b::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_TOPIC,
                name.as_ptr(),
            ));
            for op in &ops {
                let (key, value, kind) = match op {
                    ConfigOp::Set { name, value } => (
                        arg(name)?,
                        Some(arg(value)?),
                        b::rd_kafka_AlterConfigOpType_t::RD_KAFKA_ALTER_CONFIG_OP_TYPE_SET,
                    ),
                    ConfigOp::Delete { name } => (
                        arg(name)?,
                        None,
                        b::rd_kafka_AlterConfigOpType_t::RD_KAFKA_ALTER_CONFIG_OP_TYPE_DELETE,
                    ),
                };
                let err = b::rd_kafka_ConfigResource_add_incremental_config(
                    resource.0,
                    key.as_ptr(),
                    kind,
                    value.as_ref().map_or(ptr::null(), |v| v.as_ptr()),
                );
                if !err.is_null() {
                    let message = cstr(b::rd_kafka_error_string(err));
                    b::rd_kafka_error_destroy(err);
                    return Err(NativeAdminError::Argument {
                        request: "IncrementalAlterConfigs",
                        message: format!("{op:?}: {message}"),
                    });
                }
            }
            let mut raw = [resource.0];
            let queue = Queue::new(rk);
            b::rd_kafka_IncrementalAlterConfigs(rk, raw.as_mut_ptr(), 1, options.0, queue.0);
            let event = queue.wait("IncrementalAlterConfigs")?;
            let res = b::rd_kafka_event_IncrementalAlterConfigs_result(event.0);
            let mut cnt = 0usize;
            let resources = b::rd_kafka_IncrementalAlterConfigs_result_resources(res, &mut cnt);
            for i in 0..cnt {
                let r = *resources.add(i);
                let code = b::rd_kafka_ConfigResource_error(r);
                if code != b::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                    return Err(NativeAdminError::Request {
                        request: "IncrementalAlterConfigs",
                        code: RDKafkaErrorCode::from(code),
                        message: cstr(b::rd_kafka_ConfigResource_error_string(r)),
                    });
                }
            }
            Ok(())
        }
    })
    .await
    .expect("IncrementalAlterConfigs task panicked")
}

/// The Kafka ids of `topics` (DescribeTopics); a topic that does not exist (or that the
/// principal may not describe) is absent. Blocking.
pub fn describe_topic_ids<C: ClientContext>(
    client: &Client<C>,
    topics: &[String],
) -> Result<HashMap<String, Option<TopicId>>, NativeAdminError> {
    Ok(describe_topics(client, topics, false)?
        .into_iter()
        .filter_map(|(name, d)| d.ok().map(|d| (name, d.id)))
        .collect())
}

/// What DescribeTopics tells of one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicFacts {
    pub id: Option<TopicId>,
    /// The operations strait's principal may perform on it (when asked for).
    pub authorized: Option<Vec<AclOperation>>,
}

/// DescribeTopics for `topics`, with the principal's authorized operations per topic if
/// `authorized_operations`. Per topic the facts, or the error code the broker gave for it (an
/// unknown topic, or one the principal may not describe). Blocking.
pub fn describe_topics<C: ClientContext>(
    client: &Client<C>,
    topics: &[String],
    authorized_operations: bool,
) -> Result<HashMap<String, Result<TopicFacts, RDKafkaErrorCode>>, NativeAdminError> {
    let mut out = HashMap::with_capacity(topics.len());
    if topics.is_empty() {
        return Ok(out);
    }
    let names = topics
        .iter()
        .map(|t| {
            CString::new(t.as_str()).map_err(|_| NativeAdminError::Argument {
                request: "DescribeTopics",
                message: format!("NUL byte in `{t}`"),
            })
        })
        .collect::<Result<Vec<CString>, _>>()?;
    let mut raw: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
    let rk = client.native_ptr();
    // SAFETY: `rk` stays valid while `client` is borrowed. `names` outlives the collection
    // (librdkafka copies the names). Every object created here is owned by a guard that frees
    // it; what the result points to lives as long as `event`, which outlives the loop.
    unsafe {
        let options = Options::new(rk, b::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBETOPICS)?;
        if authorized_operations {
            options.include_authorized_operations("DescribeTopics")?;
        }
        let collection = Collection(b::rd_kafka_TopicCollection_of_topic_names(
            raw.as_mut_ptr(),
            raw.len(),
        ));
        let queue = Queue::new(rk);
        b::rd_kafka_DescribeTopics(rk, collection.0, options.0, queue.0);
        let event = queue.wait("DescribeTopics")?;
        let res = b::rd_kafka_event_DescribeTopics_result(event.0);
        let mut cnt = 0usize;
        let descriptions = b::rd_kafka_DescribeTopics_result_topics(res, &mut cnt);
        for i in 0..cnt {
            let desc = *descriptions.add(i);
            let name = cstr(b::rd_kafka_TopicDescription_name(desc));
            let err = b::rd_kafka_TopicDescription_error(desc);
            if !err.is_null()
                && b::rd_kafka_error_code(err) != b::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
            {
                out.insert(
                    name,
                    Err(RDKafkaErrorCode::from(b::rd_kafka_error_code(err))),
                );
                continue;
            }
            let uuid = b::rd_kafka_TopicDescription_topic_id(desc);
            let id = if uuid.is_null() {
                None
            } else {
                TopicId::from_bits(
                    b::rd_kafka_Uuid_most_significant_bits(uuid),
                    b::rd_kafka_Uuid_least_significant_bits(uuid),
                )
            };
            // None when not asked for, or when the broker did not say.
            let authorized = if authorized_operations {
                let mut n = 0usize;
                let ops = b::rd_kafka_TopicDescription_authorized_operations(desc, &mut n);
                operations(ops, n)
            } else {
                None
            };
            out.insert(name, Ok(TopicFacts { id, authorized }));
        }
        Ok(out)
    }
}

/// The operations strait's principal may perform on the cluster itself (DescribeCluster);
/// `None` when the broker does not say. Blocking.
pub fn cluster_operations<C: ClientContext>(
    client: &Client<C>,
) -> Result<Option<Vec<AclOperation>>, NativeAdminError> {
    let rk = client.native_ptr();
    // SAFETY: as in `describe_topics`; the result lives as long as `event`.
    unsafe {
        let options = Options::new(
            rk,
            b::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBECLUSTER,
        )?;
        options.include_authorized_operations("DescribeCluster")?;
        let queue = Queue::new(rk);
        b::rd_kafka_DescribeCluster(rk, options.0, queue.0);
        let event = queue.wait("DescribeCluster")?;
        let res = b::rd_kafka_event_DescribeCluster_result(event.0);
        let mut n = 0usize;
        let ops = b::rd_kafka_DescribeCluster_result_authorized_operations(res, &mut n);
        Ok(operations(ops, n))
    }
}

/// A group's committed offsets: (topic, partition, offset, metadata), partitions without one
/// left out.
pub type GroupOffsets = Vec<(String, i32, i64, String)>;

/// (group, partitions to read: `None` for all it has offsets for)
pub type OffsetsQuery = (String, Option<Vec<(String, i32)>>);

/// (group, (topic, partition, offset) to commit)
pub type OffsetsCommit = (String, Vec<(String, i32, i64)>);

/// How many consumer-group requests one call keeps in flight on the client (librdkafka takes
/// one group per ListConsumerGroupOffsets or AlterConsumerGroupOffsets request; they go to the
/// groups' coordinators side by side, through the client's own threads).
const GROUPS_IN_FLIGHT: usize = 128;

/// The committed offsets of many groups through one client (ListConsumerGroupOffsets, at most
/// 128 at a time): per request `(group, partitions)`, in order, the group's
/// offsets for those partitions (`None`: every partition it has an offset for), or why not.
/// Blocking.
pub fn list_group_offsets<C: ClientContext>(
    client: &Client<C>,
    requests: &[OffsetsQuery],
) -> Vec<Result<GroupOffsets, NativeAdminError>> {
    const REQUEST: &str = "ListConsumerGroupOffsets";
    let rk = client.native_ptr();
    // SAFETY: `rk` stays valid while `client` is borrowed. The request objects are copied by
    // librdkafka and freed here right after the call; what a result points to lives as long as
    // its event.
    unsafe {
        in_flight(
            rk,
            requests.len(),
            REQUEST,
            b::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS,
            |i, options, queue| {
                let (group, partitions) = &requests[i];
                let name = c_name(REQUEST, group)?;
                let tpl = partitions.as_ref().map(|ps| {
                    let mut tpl = rdkafka::TopicPartitionList::with_capacity(ps.len());
                    for (topic, partition) in ps {
                        tpl.add_partition(topic, *partition);
                    }
                    tpl
                });
                let tpl_ptr = tpl.as_ref().map_or(ptr::null(), |t| t.ptr() as *const _);
                let req = b::rd_kafka_ListConsumerGroupOffsets_new(name.as_ptr(), tpl_ptr);
                let mut reqs = [req];
                b::rd_kafka_ListConsumerGroupOffsets(rk, reqs.as_mut_ptr(), 1, options, queue);
                b::rd_kafka_ListConsumerGroupOffsets_destroy(req);
                Ok(())
            },
            |event| {
                let res = b::rd_kafka_event_ListConsumerGroupOffsets_result(event);
                let mut cnt = 0usize;
                let groups = b::rd_kafka_ListConsumerGroupOffsets_result_groups(res, &mut cnt);
                group_result(REQUEST, groups, cnt, true)
            },
        )
    }
}

/// Commits offsets for many groups through one client (AlterConsumerGroupOffsets, at most
/// 128 at a time): per request `(group, offsets)`, in order, whether the
/// coordinator took them. Kafka takes them only while the group has no active members.
/// Blocking.
pub fn alter_group_offsets<C: ClientContext>(
    client: &Client<C>,
    requests: &[OffsetsCommit],
) -> Vec<Result<(), NativeAdminError>> {
    const REQUEST: &str = "AlterConsumerGroupOffsets";
    let rk = client.native_ptr();
    // SAFETY: as in `list_group_offsets`.
    unsafe {
        in_flight(
            rk,
            requests.len(),
            REQUEST,
            b::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS,
            |i, options, queue| {
                let (group, offsets) = &requests[i];
                let name = c_name(REQUEST, group)?;
                let mut tpl = rdkafka::TopicPartitionList::with_capacity(offsets.len());
                for (topic, partition, offset) in offsets {
                    tpl.add_partition_offset(topic, *partition, rdkafka::Offset::Offset(*offset))
                        .map_err(|e| NativeAdminError::Argument {
                            request: REQUEST,
                            message: e.to_string(),
                        })?;
                }
                let req = b::rd_kafka_AlterConsumerGroupOffsets_new(name.as_ptr(), tpl.ptr());
                let mut reqs = [req];
                b::rd_kafka_AlterConsumerGroupOffsets(rk, reqs.as_mut_ptr(), 1, options, queue);
                b::rd_kafka_AlterConsumerGroupOffsets_destroy(req);
                Ok(())
            },
            |event| {
                let res = b::rd_kafka_event_AlterConsumerGroupOffsets_result(event);
                let mut cnt = 0usize;
                let groups = b::rd_kafka_AlterConsumerGroupOffsets_result_groups(res, &mut cnt);
                group_result(REQUEST, groups, cnt, false).map(|_| ())
            },
        )
    }
}

fn c_name(request: &'static str, name: &str) -> Result<CString, NativeAdminError> {
    CString::new(name).map_err(|_| NativeAdminError::Argument {
        request,
        message: format!("NUL byte in `{name}`"),
    })
}

/// Runs `count` admin requests of kind `op` on one result queue, at most [`GROUPS_IN_FLIGHT`]
/// at a time: `submit(i, options, queue)` sends request `i` (its options carry `i` as the
/// event's opaque), `read(event)` turns its result into a value. The results in request
/// order; a request that got no answer in time is a [`NativeAdminError::Timeout`].
///
/// # Safety
/// `rk` is a live client handle for the whole call; `submit` sends exactly one request of
/// kind `op` with the options and queue it is given, or none and returns `Err`; `read` only
/// reads the event it is given.
unsafe fn in_flight<T>(
    rk: *mut b::rd_kafka_t,
    count: usize,
    request: &'static str,
    op: b::rd_kafka_admin_op_t,
    mut submit: impl FnMut(
        usize,
        *const b::rd_kafka_AdminOptions_t,
        *mut b::rd_kafka_queue_t,
    ) -> Result<(), NativeAdminError>,
    mut read: impl FnMut(*mut b::rd_kafka_event_t) -> Result<T, NativeAdminError>,
) -> Vec<Result<T, NativeAdminError>> {
    let mut out: Vec<Option<Result<T, NativeAdminError>>> = (0..count).map(|_| None).collect();
    let queue = Queue::new(rk);
    let mut next = 0;
    let mut waiting = 0;
    let timeout = ADMIN_TIMEOUT + Duration::from_secs(5);
    while next < count || waiting > 0 {
        while next < count && waiting < GROUPS_IN_FLIGHT {
            let i = next;
            next += 1;
            let sent = Options::new(rk, op).and_then(|options| {
                b::rd_kafka_AdminOptions_set_opaque(options.0, i as *mut std::ffi::c_void);
                submit(i, options.0, queue.0)
            });
            match sent {
                Ok(()) => waiting += 1,
                Err(e) => out[i] = Some(Err(e)),
            }
        }
        if waiting == 0 {
            continue;
        }
        let ev = b::rd_kafka_queue_poll(queue.0, timeout.as_millis() as i32);
        if ev.is_null() {
            // Nothing answered in time: every request still waiting gets the timeout (their
            // late answers go to the queue, freed with it).
            break;
        }
        let event = Event(ev);
        let i = b::rd_kafka_event_opaque(event.0) as usize;
        if i >= count || out[i].is_some() {
            continue;
        }
        waiting -= 1;
        let code = b::rd_kafka_event_error(event.0);
        out[i] = Some(
            if code != b::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                Err(NativeAdminError::Request {
                    request,
                    code: RDKafkaErrorCode::from(code),
                    message: cstr(b::rd_kafka_event_error_string(event.0)),
                })
            } else {
                read(event.0)
            },
        );
    }
    out.into_iter()
        .map(|r| r.unwrap_or(Err(NativeAdminError::Timeout { request, timeout })))
        .collect()
}

/// The one group result of a group-offsets request: with `listing`, its offsets (partitions
/// without one left out); the group's error, or the first partition's error, as `Err`.
///
/// # Safety
/// `groups` points to `cnt` group results that outlive the call.
unsafe fn group_result(
    request: &'static str,
    groups: *mut *const b::rd_kafka_group_result_t,
    cnt: usize,
    listing: bool,
) -> Result<GroupOffsets, NativeAdminError> {
    let failed = |code: b::rd_kafka_resp_err_t, message: String| NativeAdminError::Request {
        request,
        code: RDKafkaErrorCode::from(code),
        message,
    };
    if cnt == 0 || groups.is_null() {
        return Err(NativeAdminError::Argument {
            request,
            message: "the result holds no group".to_string(),
        });
    }
    let group = *groups;
    let err = b::rd_kafka_group_result_error(group);
    if !err.is_null() {
        let code = b::rd_kafka_error_code(err);
        if code != b::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            return Err(failed(code, cstr(b::rd_kafka_error_string(err))));
        }
    }
    let tpl = b::rd_kafka_group_result_partitions(group);
    let mut out = Vec::new();
    if tpl.is_null() {
        return Ok(out);
    }
    let list = &*tpl;
    for i in 0..usize::try_from(list.cnt).unwrap_or(0) {
        let e = &*list.elems.add(i);
        let topic = cstr(e.topic);
        if e.err != b::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            let message = format!("partition {topic}-{}", e.partition);
            return Err(failed(e.err, message));
        }
        if !listing || e.offset < 0 {
            continue;
        }
        let metadata = if e.metadata.is_null() || e.metadata_size == 0 {
            String::new()
        } else {
            let bytes = std::slice::from_raw_parts(e.metadata as *const u8, e.metadata_size);
            String::from_utf8_lossy(bytes).into_owned()
        };
        out.push((topic, e.partition, e.offset, metadata));
    }
    Ok(out)
}

/// The authorized operations librdkafka parsed: `None` for a null pointer (not asked for, or
/// the broker did not say); a principal that may do nothing gets an empty list (librdkafka
/// returns a non-null pointer with no entries then).
///
/// # Safety
/// `ops` points to `n` operations, or is null.
unsafe fn operations(
    ops: *const b::rd_kafka_AclOperation_t,
    n: usize,
) -> Option<Vec<AclOperation>> {
    if ops.is_null() {
        return None;
    }
    Some((0..n).map(|i| AclOperation::from_c(*ops.add(i))).collect())
}

/// Copies a C string (NULL → empty).
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string.
unsafe fn cstr(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

struct Options(*mut b::rd_kafka_AdminOptions_t);

impl Options {
    /// # Safety
    /// `rk` is a live client handle.
    unsafe fn new(
        rk: *mut b::rd_kafka_t,
        op: b::rd_kafka_admin_op_t,
    ) -> Result<Options, NativeAdminError> {
        let options = Options(b::rd_kafka_AdminOptions_new(rk, op));
        let mut errstr = [0 as c_char; 512];
        let err = b::rd_kafka_AdminOptions_set_request_timeout(
            options.0,
            ADMIN_TIMEOUT.as_millis() as i32,
            errstr.as_mut_ptr(),
            errstr.len(),
        );
        if err != b::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            return Err(NativeAdminError::Argument {
                request: "admin options",
                message: cstr(errstr.as_ptr()),
            });
        }
        Ok(options)
    }

    /// Asks for the principal's authorized operations in the result.
    ///
    /// # Safety
    /// The options are live (owned by `self`).
    unsafe fn include_authorized_operations(
        &self,
        request: &'static str,
    ) -> Result<(), NativeAdminError> {
        let err = b::rd_kafka_AdminOptions_set_include_authorized_operations(self.0, 1);
        if err.is_null() {
            return Ok(());
        }
        let message = cstr(b::rd_kafka_error_string(err));
        b::rd_kafka_error_destroy(err);
        Err(NativeAdminError::Argument { request, message })
    }
}

impl Drop for Options {
    fn drop(&mut self) {
        // SAFETY: created by rd_kafka_AdminOptions_new, freed once.
        unsafe { b::rd_kafka_AdminOptions_destroy(self.0) }
    }
}

struct Binding(*mut b::rd_kafka_AclBinding_t);

impl Drop for Binding {
    fn drop(&mut self) {
        // SAFETY: created by rd_kafka_AclBinding(Filter)_new, freed once.
        unsafe { b::rd_kafka_AclBinding_destroy(self.0) }
    }
}

struct Resource(*mut b::rd_kafka_ConfigResource_t);

impl Drop for Resource {
    fn drop(&mut self) {
        // SAFETY: created by rd_kafka_ConfigResource_new, freed once.
        unsafe { b::rd_kafka_ConfigResource_destroy(self.0) }
    }
}

struct Collection(*mut b::rd_kafka_TopicCollection_t);

impl Drop for Collection {
    fn drop(&mut self) {
        // SAFETY: created by rd_kafka_TopicCollection_of_topic_names, freed once.
        unsafe { b::rd_kafka_TopicCollection_destroy(self.0) }
    }
}

struct Event(*mut b::rd_kafka_event_t);

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: returned by rd_kafka_queue_poll, freed once.
        unsafe { b::rd_kafka_event_destroy(self.0) }
    }
}

struct Queue(*mut b::rd_kafka_queue_t);

impl Queue {
    /// # Safety
    /// `rk` is a live client handle.
    unsafe fn new(rk: *mut b::rd_kafka_t) -> Queue {
        Queue(b::rd_kafka_queue_new(rk))
    }

    /// Waits for the request's result event (the request timeout plus a margin) and turns a
    /// request-level error into `Err`.
    ///
    /// # Safety
    /// The queue is live.
    unsafe fn wait(&self, request: &'static str) -> Result<Event, NativeAdminError> {
        let timeout = ADMIN_TIMEOUT + Duration::from_secs(5);
        let ev = b::rd_kafka_queue_poll(self.0, timeout.as_millis() as i32);
        if ev.is_null() {
            return Err(NativeAdminError::Timeout { request, timeout });
        }
        let event = Event(ev);
        let code = b::rd_kafka_event_error(event.0);
        if code != b::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            return Err(NativeAdminError::Request {
                request,
                code: RDKafkaErrorCode::from(code),
                message: cstr(b::rd_kafka_event_error_string(event.0)),
            });
        }
        Ok(event)
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        // SAFETY: created by rd_kafka_queue_new, freed once (after the event it produced).
        unsafe { b::rd_kafka_queue_destroy(self.0) }
    }
}
