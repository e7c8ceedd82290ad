// Words of the console itself, Chinese first; everything of the domain (statuses, categories,
// roles) comes from GET /api/v1/vocabulary.
import { reactive } from 'vue';

const UI = {
  zh: {
    title: '智慧物业安全感知平台', signIn: '登录', token: '访问令牌', tokenHint: '请输入管理员发给您的令牌', signOut: '退出',
    file: '一键报修', mine: '我的报修', category: '报修类别', building: '楼栋', unit: '单元', room: '房间号', description: '问题描述',
    descriptionHint: '请描述问题，例如：厨房水管漏水', photo: '照片', addPhoto: '拍照或选择照片', submit: '提交报修', submitted: '已提交，进度会在这里更新',
    none: '暂无报修', progress: '办理进度', rate: '评价', overall: '总体', speed: '速度', service: '服务', comment: '留言', sendRating: '提交评价',
    rated: '已评价', language: 'English', notBuilt: '此角色的页面还在建设中，可先使用 API（/docs）。', required: '必填', live: '实时更新',
  },
  en: {
    title: 'Smart-property safety', signIn: 'Sign in', token: 'Access token', tokenHint: 'The token your administrator gave you', signOut: 'Sign out',
    file: 'Report a repair', mine: 'My requests', category: 'Category', building: 'Building', unit: 'Unit', room: 'Room', description: 'Description',
    descriptionHint: 'What is wrong, e.g. the kitchen pipe leaks', photo: 'Photo', addPhoto: 'Take or choose a photo', submit: 'Submit', submitted: 'Submitted: progress shows here',
    none: 'No requests yet', progress: 'Progress', rate: 'Rate', overall: 'Overall', speed: 'Speed', service: 'Service', comment: 'Comment', sendRating: 'Send rating',
    rated: 'Rated', language: '中文', notBuilt: 'The pages for this role are not built yet; the API is at /docs.', required: 'required', live: 'Live',
  },
};

export const words = reactive({ lang: 'zh', vocabulary: null });
export const t = (key) => UI[words.lang][key] ?? key;
/** A label of the vocabulary in the chosen language (`statuses`, `actions`, …). */
export const label = (table, key) => {
  const entry = words.vocabulary?.[table]?.[key];
  return entry ? entry[words.lang] ?? entry.zh : key;
};
